//! `wsp-relay`: the relay database and ID-WSF 2.0 Discovery Service: identity links, per-provider
//! pseudonyms, WSP registration, policy, token minting and access records. Holds no records.
