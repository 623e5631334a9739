//! `idp`: the SAML 2.0 identity provider. Residents sign in with the JPKI certificate on their card
//! (through the local card agent); the IdP issues signed assertions carrying the ID-WSF Discovery
//! Service bootstrap. Built on `schemas` for every XML and signature operation.

pub mod agent;
pub mod jpki;
pub mod web;
