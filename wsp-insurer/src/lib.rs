//! `wsp-insurer`: the agencies' data providers (ID-WSF 2.0 web service providers). Each instance
//! holds its own agency's records and answers only to a valid token addressed to it.
