#!/usr/bin/python3
"""pysaml2 (Debian's python3-pysaml2) as a SAML SP consuming Responses made by the schemas
crate's `websso::build_response`, for tests/websso_pysaml2.rs.

Usage: /usr/bin/python3 pysaml2_sp.py WORKDIR SP_ENTITY ACS_URL REQUEST_ID RESPONSE_FILE...

WORKDIR holds idp_metadata.xml (our IdP, loaded as local metadata), sp.key.pem and sp.cert.pem
(the SP's key pair: request signing and assertion decryption). Each RESPONSE_FILE holds a
base64 SAMLResponse as the HTTP-POST binding carries it. For each, the SP calls
`parse_authn_request_response` with REQUEST_ID outstanding and prints a block:

    response <file>
    ok                                       (or: error <ExceptionClass>: <message>)
    name_id <text>
    name_id_format <format>
    issuer <entity>
    authn_class <class ref>
    attr <name>\t<value>                     (one line per value)
    end
"""

import os
import sys

from saml2 import BINDING_HTTP_POST
from saml2.client import Saml2Client
from saml2.config import SPConfig


def main():
    workdir, sp_entity, acs, request_id = sys.argv[1:5]
    files = sys.argv[5:]
    key = os.path.join(workdir, "sp.key.pem")
    cert = os.path.join(workdir, "sp.cert.pem")
    conf = {
        "entityid": sp_entity,
        "key_file": key,
        "cert_file": cert,
        "encryption_keypairs": [{"key_file": key, "cert_file": cert}],
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "metadata": {"local": [os.path.join(workdir, "idp_metadata.xml")]},
        "allow_unknown_attributes": True,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)]},
                "want_response_signed": True,
                "want_assertions_signed": True,
                "allow_unsolicited": False,
                "authn_requests_signed": False,
            }
        },
    }
    client = Saml2Client(SPConfig().load(conf))
    for name in files:
        print("response", os.path.basename(name))
        with open(name) as f:
            b64 = f.read().strip()
        try:
            resp = client.parse_authn_request_response(
                b64, BINDING_HTTP_POST, outstanding={request_id: "/"})
            if resp is None:
                raise ValueError("no response")
        except Exception as e:  # report, the Rust test decides
            print("error", type(e).__name__ + ":", str(e).replace("\n", " ")[:300])
            print("end")
            continue
        print("ok")
        print("name_id", resp.name_id.text)
        print("name_id_format", resp.name_id.format)
        print("issuer", resp.issuer())
        for ctx, _authorities, _instant in resp.authn_info():
            print("authn_class", ctx)
        for attr, values in sorted(resp.ava.items()):
            for v in values:
                print("attr", attr + "\t" + str(v).replace("\n", " "))
        print("end")


if __name__ == "__main__":
    main()
