//! `sp-portal`: the resident portal and the clinic eligibility check, a SAML 2.0 service provider and
//! ID-WSF 2.0 web service consumer. Built on `schemas` for every XML and signature operation.
