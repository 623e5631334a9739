//! `interop-tests`: the federation's deployment profile and the conformance suite that runs against
//! any IdP, SP/WSC, Discovery Service or WSP.
