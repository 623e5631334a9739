#!/usr/bin/python3
"""Makes SAML 2.0 messages and metadata with pysaml2 (Debian's python3-pysaml2), for the schemas
crate's interoperability tests (tests/saml_pysaml2.rs).

Usage: /usr/bin/python3 gen_pysaml2.py OUTDIR

Writes into OUTDIR: sp_metadata.xml, idp_metadata.xml, authn_request.xml,
authn_request_signed.xml, response.xml (unsigned), response_signed_assertion.xml (assertion
signed by xmlsec1), response_encrypted.xml (signed response, encrypted signed assertion), logout_request.xml, logout_response.xml, cert.der (the entities' certificate),
redirect_query.txt (a signed HTTP-Redirect query carrying an AuthnRequest) and ids.txt (the IDs the
Rust tests check against).
"""

import os
import subprocess
import sys
import tempfile

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import IdPConfig, SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.samlp import NameIDPolicy
from saml2.server import Server

SP = "https://sp.example.jp/sp"
IDP = "https://idp.example.jp/idp"
ACS = "https://sp.example.jp/acs"
SP_SLO = "https://sp.example.jp/slo"
IDP_SSO = "https://idp.example.jp/sso"
IDP_SLO = "https://idp.example.jp/slo"
PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def sp_config(key, cert, peer_md=None):
    conf = {
        "entityid": SP,
        "key_file": key,
        "cert_file": cert,
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "encryption_keypairs": [{"key_file": key, "cert_file": cert}],
        "service": {
            "sp": {
                "name": "pysaml2 test SP",
                "endpoints": {
                    "assertion_consumer_service": [(ACS, BINDING_HTTP_POST)],
                    "single_logout_service": [(SP_SLO, BINDING_HTTP_REDIRECT)],
                },
                "authn_requests_signed": True,
                "want_assertions_signed": True,
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "allow_unsolicited": False,
            }
        },
    }
    if peer_md:
        conf["metadata"] = {"inline": [peer_md]}
    return SPConfig().load(conf)


def idp_config(key, cert, peer_md=None):
    conf = {
        "entityid": IDP,
        "key_file": key,
        "cert_file": cert,
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "service": {
            "idp": {
                "name": "pysaml2 test IdP",
                "endpoints": {
                    "single_sign_on_service": [
                        (IDP_SSO, BINDING_HTTP_REDIRECT),
                        (IDP_SSO, BINDING_HTTP_POST),
                    ],
                    "single_logout_service": [(IDP_SLO, BINDING_HTTP_REDIRECT)],
                },
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "policy": {
                    "default": {
                        "lifetime": {"minutes": 15},
                        "attribute_restrictions": None,
                        "name_form": NAME_FORMAT_URI,
                    }
                },
            }
        },
    }
    if peer_md:
        conf["metadata"] = {"inline": [peer_md]}
    return IdPConfig().load(conf)


def write(outdir, name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(outdir, name), mode) as f:
        f.write(data)


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        key = os.path.join(tmp, "key.pem")
        cert = os.path.join(tmp, "cert.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
             "-out", cert, "-days", "3650", "-subj", "/CN=pysaml2 interop test"],
            check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                             check=True, capture_output=True).stdout
        write(outdir, "cert.der", der)

        sp_md = str(entity_descriptor(sp_config(key, cert)))
        idp_md = str(entity_descriptor(idp_config(key, cert)))
        write(outdir, "sp_metadata.xml", sp_md)
        write(outdir, "idp_metadata.xml", idp_md)

        sp = Saml2Client(sp_config(key, cert, idp_md))
        idp = Server(config=idp_config(key, cert, sp_md))

        req_id, req = sp.create_authn_request(
            IDP_SSO, binding=BINDING_HTTP_POST, nameid_format=NAMEID_FORMAT_PERSISTENT,
            sign=False)
        write(outdir, "authn_request.xml", str(req))
        signed_id, signed_req = sp.create_authn_request(
            IDP_SSO, binding=BINDING_HTTP_POST, nameid_format=NAMEID_FORMAT_PERSISTENT,
            sign=True, sign_alg=RSA_SHA256, digest_alg=SHA256)
        write(outdir, "authn_request_signed.xml", str(signed_req))

        identity = {"mail": ["taro@example.jp"], "givenName": ["Taro"], "sn": ["Yamada"]}
        authn = {"class_ref": PPT, "authn_auth": IDP}
        policy = NameIDPolicy(format=NAMEID_FORMAT_PERSISTENT, allow_create="true")
        resp = idp.create_authn_response(
            identity, req_id, ACS, SP, name_id_policy=policy, userid="taro", authn=authn,
            sign_response=False, sign_assertion=False)
        write(outdir, "response.xml", str(resp))
        signed = idp.create_authn_response(
            identity, req_id, ACS, SP, name_id_policy=policy, userid="taro", authn=authn,
            sign_response=False, sign_assertion=True, sign_alg=RSA_SHA256, digest_alg=SHA256)
        write(outdir, "response_signed_assertion.xml", str(signed))
        with open(cert) as f:
            pem_body = "".join(l.strip() for l in f if not l.startswith("-----"))
        encrypted = idp.create_authn_response(
            identity, req_id, ACS, SP, name_id_policy=policy, userid="taro", authn=authn,
            sign_response=True, sign_assertion=True, sign_alg=RSA_SHA256, digest_alg=SHA256,
            encrypt_assertion=True, encrypt_cert_assertion=pem_body)
        write(outdir, "response_encrypted.xml", str(encrypted))

        name_id = NameID(format=NAMEID_FORMAT_PERSISTENT, text="pairwise-abc",
                         name_qualifier=IDP, sp_name_qualifier=SP)
        lo_id, lo_req = sp.create_logout_request(
            IDP_SLO, IDP, name_id=name_id, reason="urn:oasis:names:tc:SAML:2.0:logout:user",
            session_indexes=["session-1"], sign=False)
        write(outdir, "logout_request.xml", str(lo_req))
        lo_resp = idp.create_logout_response(lo_req, [BINDING_HTTP_REDIRECT], sign=False)
        write(outdir, "logout_response.xml", str(lo_resp))

        # HTTP-Redirect binding with a query signature (SAML bindings 3.4.4.1).
        redirect_id, redirect_req = sp.create_authn_request(
            IDP_SSO, binding=BINDING_HTTP_POST, nameid_format=NAMEID_FORMAT_PERSISTENT,
            sign=False)
        info = sp.apply_binding(BINDING_HTTP_REDIRECT, str(redirect_req), IDP_SSO,
                                relay_state="pysaml2 relay/state", sign=True, sigalg=RSA_SHA256)
        location = dict(info["headers"])["Location"]
        write(outdir, "redirect_query.txt", location.split("?", 1)[1])

        write(outdir, "ids.txt",
              f"authn_request {req_id}\nlogout_request {lo_id}\nredirect_request {redirect_id}\n")


if __name__ == "__main__":
    main()
