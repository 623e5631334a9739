/*
 * libxmlsec1 (OpenSSL backend) reference for benches/dsig.rs.
 *
 * The Rust bench compiles this file at run time with `cc` (it is not part of any normal build)
 * and runs it on the same signed assertion and the same RSA-2048 key as our own benchmarks.
 * It does what a hardened SAML stack on libxmlsec1 does per message:
 *
 *   verify: parse from memory (XML_PARSE_NONET, no DTD loading, no entity substitution), register
 *           the Assertion's ID attribute (xmlAddID), create a DSig context over a keys manager that
 *           holds the trusted key (loaded once), allow same-document references only, restrict the
 *           transforms to enveloped-signature + exc-c14n (+ SHA-256 / RSA-SHA256), find the
 *           Signature child of the Assertion, xmlSecDSigCtxVerify, require status Succeeded and
 *           exactly one Reference to "#<ID>", free everything.
 *           "strict" KeyInfo mode: only KeyName is an enabled KeyInfo child, so the X509Data of the
 *           message is ignored and the key comes from the keys manager (as in our verifier).
 *           "default" KeyInfo mode: libxmlsec1's default KeyInfo processing (it parses the
 *           X509Certificate of the message and tries to verify it against the empty trust store
 *           before falling back to the keys manager).
 *   sign:   parse the unsigned assertion, register the ID, build the Signature template (exc-c14n,
 *           RSA-SHA256, one Reference "#<ID>" with enveloped + exc-c14n, SHA-256, KeyInfo/X509Data
 *           with the certificate), insert it after saml:Issuer, xmlSecDSigCtxSign with the private
 *           key from a keys manager (loaded once), serialize the document to memory, free everything.
 *
 *   parse:  (for the breakdown) libxml2 parse of the signed document from memory and free, only.
 *
 * Output: one JSON object on stdout with operations per second for each measurement.
 *
 * usage: xmlsec_bench --signed F --unsigned F --key KEY.pem --cert CERT.pem --seconds T
 *                     [--rounds R] [--sign-out F] [--clock wall|cpu]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <libxml/xmlversion.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/templates.h>
#include <xmlsec/keys.h>
#include <xmlsec/keysmngr.h>
#include <xmlsec/keyinfo.h>
#include <xmlsec/transforms.h>
#include <xmlsec/errors.h>
#include <xmlsec/crypto.h>

static const xmlChar SAML_NS[] = "urn:oasis:names:tc:SAML:2.0:assertion";

static long error_count = 0;
static char first_error[512] = "";

static void count_errors(const char *file, int line, const char *func, const char *errorObject,
                         const char *errorSubject, int reason, const char *msg) {
    (void)file; (void)line;
    if (error_count++ == 0) {
        snprintf(first_error, sizeof first_error, "%s: %s/%s reason=%d %s", func ? func : "",
                 errorObject ? errorObject : "", errorSubject ? errorSubject : "", reason,
                 msg ? msg : "");
    }
}

static void die(const char *what) {
    fprintf(stderr, "xmlsec_bench: %s", what);
    if (first_error[0]) fprintf(stderr, " (first xmlsec error: %s)", first_error);
    fputc('\n', stderr);
    exit(1);
}

static char *read_file(const char *path, int *len) {
    FILE *f = fopen(path, "rb");
    if (!f) die(path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) die("read");
    buf[n] = 0;
    fclose(f);
    *len = (int)n;
    return buf;
}

/* --clock wall (default) or cpu: the thread's CPU time, as the Rust side's DSIG_BENCH_CLOCK=cpu. */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Parses from memory the way a hardened service does: no network, no DTD, no entities. */
static xmlDocPtr parse(const char *buf, int len) {
    return xmlReadMemory(buf, len, "message.xml", NULL, XML_PARSE_NONET);
}

/* Registers the ID attribute of the root (saml:Assertion) as an XML ID; returns its value. */
static xmlChar *register_id(xmlDocPtr doc, xmlNodePtr root) {
    xmlAttrPtr attr = xmlHasProp(root, BAD_CAST "ID");
    if (!attr) return NULL;
    xmlChar *value = xmlNodeListGetString(doc, attr->children, 1);
    if (!value) return NULL;
    if (xmlGetID(doc, value) == NULL && xmlAddID(NULL, doc, value, attr) == NULL) {
        xmlFree(value);
        return NULL;
    }
    return value;
}

static int restrict_transforms(xmlSecDSigCtxPtr ctx) {
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId) < 0) return -1;
    if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId) < 0) return -1;
    if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id) < 0) return -1;
    if (xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformExclC14NId) < 0) return -1;
    if (xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha256Id) < 0) return -1;
    return 0;
}

/* One verification; 1 if valid, 0 otherwise. */
static int verify_once(const char *buf, int len, xmlSecKeysMngrPtr mngr, int strict_keyinfo) {
    int ok = 0;
    xmlSecDSigCtxPtr ctx = NULL;
    xmlChar *id = NULL;
    xmlDocPtr doc = parse(buf, len);
    if (!doc) return 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || !xmlSecCheckNodeName(root, BAD_CAST "Assertion", SAML_NS)) goto done;
    id = register_id(doc, root);
    if (!id) goto done;
    xmlNodePtr sig = xmlSecFindChild(root, xmlSecNodeSignature, xmlSecDSigNs);
    if (!sig) goto done;
    ctx = xmlSecDSigCtxCreate(mngr);
    if (!ctx) goto done;
    if (restrict_transforms(ctx) < 0) goto done;
    if (strict_keyinfo &&
        xmlSecPtrListAdd(&ctx->keyInfoReadCtx.enabledKeyData, (xmlSecPtr)xmlSecKeyDataNameId) < 0)
        goto done;
    if (xmlSecDSigCtxVerify(ctx, sig) < 0) goto done;
    if (ctx->status != xmlSecDSigStatusSucceeded) goto done;
    /* Exactly one Reference, and it names the Assertion. */
    if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1) goto done;
    xmlSecDSigReferenceCtxPtr ref = xmlSecPtrListGetItem(&ctx->signedInfoReferences, 0);
    if (!ref || !ref->uri || ref->uri[0] != '#' || !xmlStrEqual(ref->uri + 1, id)) goto done;
    ok = 1;
done:
    if (ctx) xmlSecDSigCtxDestroy(ctx);
    if (id) xmlFree(id);
    xmlFreeDoc(doc);
    return ok;
}

/* One signature from a template; returns the serialized signed document length (0 on failure). */
static int sign_once(const char *buf, int len, xmlSecKeysMngrPtr mngr, xmlChar **out) {
    int out_len = 0;
    xmlSecDSigCtxPtr ctx = NULL;
    xmlChar *id = NULL, *uri = NULL;
    xmlDocPtr doc = parse(buf, len);
    if (!doc) return 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root) goto done;
    id = register_id(doc, root);
    if (!id) goto done;
    xmlNodePtr tmpl = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformExclC14NId,
                                                      xmlSecTransformRsaSha256Id, NULL, BAD_CAST "ds");
    if (!tmpl) goto done;
    xmlNodePtr first = xmlSecGetNextElementNode(root->children);
    if (first && xmlSecCheckNodeName(first, BAD_CAST "Issuer", SAML_NS)) {
        xmlAddNextSibling(first, tmpl);
    } else if (first) {
        xmlAddPrevSibling(first, tmpl);
    } else {
        xmlAddChild(root, tmpl);
    }
    size_t ulen = (size_t)xmlStrlen(id) + 2;
    uri = xmlMalloc(ulen);
    snprintf((char *)uri, ulen, "#%s", (const char *)id);
    xmlNodePtr ref = xmlSecTmplSignatureAddReference(tmpl, xmlSecTransformSha256Id, NULL, uri, NULL);
    if (!ref) goto done;
    if (!xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId)) goto done;
    if (!xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId)) goto done;
    xmlNodePtr ki = xmlSecTmplSignatureEnsureKeyInfo(tmpl, NULL);
    if (!ki) goto done;
    xmlNodePtr x509 = xmlSecTmplKeyInfoAddX509Data(ki);
    if (!x509 || !xmlSecTmplX509DataAddCertificate(x509)) goto done;
    ctx = xmlSecDSigCtxCreate(mngr);
    if (!ctx) goto done;
    if (xmlSecDSigCtxSign(ctx, tmpl) < 0) goto done;
    xmlDocDumpMemory(doc, out, &out_len);
done:
    if (ctx) xmlSecDSigCtxDestroy(ctx);
    if (uri) xmlFree(uri);
    if (id) xmlFree(id);
    xmlFreeDoc(doc);
    return out_len;
}

struct result {
    long ops;
    double seconds;
    double round_rates[64];
    int rounds;
};

enum op { VERIFY_STRICT, VERIFY_DEFAULT, SIGN, PARSE };

static int run_op(enum op op, const char *buf, int len, xmlSecKeysMngrPtr mngr) {
    if (op == PARSE) {
        xmlDocPtr doc = parse(buf, len);
        if (!doc) return 0;
        xmlFreeDoc(doc);
        return 1;
    }
    if (op == SIGN) {
        xmlChar *out = NULL;
        int n = sign_once(buf, len, mngr, &out);
        if (out) xmlFree(out);
        return n > 0;
    }
    return verify_once(buf, len, mngr, op == VERIFY_STRICT);
}

static struct result measure(enum op op, const char *buf, int len, xmlSecKeysMngrPtr mngr,
                             double seconds, int rounds) {
    struct result r = {0};
    /* warm-up */
    double t0 = now();
    while (now() - t0 < 0.3) {
        if (!run_op(op, buf, len, mngr)) die("operation failed during warm-up");
    }
    r.rounds = rounds;
    double per_round = seconds / rounds;
    for (int i = 0; i < rounds; i++) {
        long n = 0;
        double start = now(), t;
        do {
            if (!run_op(op, buf, len, mngr)) die("operation failed");
            n++;
            t = now() - start;
        } while (t < per_round);
        r.ops += n;
        r.seconds += t;
        r.round_rates[i] = (double)n / t;
    }
    return r;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_result(const char *name, struct result r, long errors, int last) {
    double sorted[64];
    memcpy(sorted, r.round_rates, sizeof(double) * (size_t)r.rounds);
    qsort(sorted, (size_t)r.rounds, sizeof(double), cmp_double);
    printf("  \"%s\": {\"ops\": %ld, \"seconds\": %.6f, \"ops_per_sec\": %.3f, "
           "\"median_round_ops_per_sec\": %.3f, \"min_round_ops_per_sec\": %.3f, "
           "\"max_round_ops_per_sec\": %.3f, \"mean_ns\": %.1f, \"xmlsec_errors_logged\": %ld}%s\n",
           name, r.ops, r.seconds, (double)r.ops / r.seconds, sorted[r.rounds / 2], sorted[0],
           sorted[r.rounds - 1], r.seconds * 1e9 / (double)r.ops, errors, last ? "" : ",");
}

int main(int argc, char **argv) {
    const char *signed_path = NULL, *unsigned_path = NULL, *key_path = NULL, *cert_path = NULL;
    const char *sign_out = NULL;
    double seconds = 3.0;
    int rounds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--signed")) signed_path = argv[i + 1];
        else if (!strcmp(argv[i], "--unsigned")) unsigned_path = argv[i + 1];
        else if (!strcmp(argv[i], "--key")) key_path = argv[i + 1];
        else if (!strcmp(argv[i], "--cert")) cert_path = argv[i + 1];
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sign-out")) sign_out = argv[i + 1];
        else if (!strcmp(argv[i], "--clock"))
            bench_clock = strcmp(argv[i + 1], "cpu") ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
        else die("unknown argument");
    }
    if (!signed_path || !unsigned_path || !key_path || !cert_path) die("missing argument");
    if (rounds < 1 || rounds > 64) rounds = 5;

    xmlInitParser();
    LIBXML_TEST_VERSION
    if (xmlSecInit() < 0) die("xmlSecInit");
    if (xmlSecCheckVersion() != 1) die("xmlsec version mismatch");
    if (xmlSecCryptoAppInit(NULL) < 0) die("xmlSecCryptoAppInit");
    if (xmlSecCryptoInit() < 0) die("xmlSecCryptoInit");
    xmlSecErrorsSetCallback(count_errors);

    /* Trusted key for verification: the public key of the IdP certificate, loaded once. */
    xmlSecKeysMngrPtr vmngr = xmlSecKeysMngrCreate();
    if (!vmngr || xmlSecCryptoAppDefaultKeysMngrInit(vmngr) < 0) die("keys manager");
    xmlSecKeyPtr vkey = xmlSecCryptoAppKeyLoad(cert_path, xmlSecKeyDataFormatCertPem, NULL, NULL, NULL);
    if (!vkey || xmlSecCryptoAppDefaultKeysMngrAdoptKey(vmngr, vkey) < 0) die("load certificate key");

    /* Signing key with its certificate (for KeyInfo), loaded once. */
    xmlSecKeysMngrPtr smngr = xmlSecKeysMngrCreate();
    if (!smngr || xmlSecCryptoAppDefaultKeysMngrInit(smngr) < 0) die("keys manager");
    xmlSecKeyPtr skey = xmlSecCryptoAppKeyLoad(key_path, xmlSecKeyDataFormatPem, NULL, NULL, NULL);
    if (!skey) die("load private key");
    if (xmlSecCryptoAppKeyCertLoad(skey, cert_path, xmlSecKeyDataFormatPem) < 0) die("load cert");
    if (xmlSecCryptoAppDefaultKeysMngrAdoptKey(smngr, skey) < 0) die("adopt private key");

    int slen, ulen;
    char *sdoc = read_file(signed_path, &slen);
    char *udoc = read_file(unsigned_path, &ulen);

    /* Correctness first: the reference must accept the document (and refuse a tampered one). */
    if (!verify_once(sdoc, slen, vmngr, 1)) die("libxmlsec1 does not verify the signed document (strict KeyInfo)");
    if (!verify_once(sdoc, slen, vmngr, 0)) die("libxmlsec1 does not verify the signed document (default KeyInfo)");
    {
        char *tampered = malloc((size_t)slen + 1);
        memcpy(tampered, sdoc, (size_t)slen + 1);
        char *p = strstr(tampered, "high</saml:AttributeValue>");
        if (!p) die("tamper point not found");
        p[0] = 'H';
        if (verify_once(tampered, slen, vmngr, 1)) die("libxmlsec1 accepted a tampered document");
        free(tampered);
    }
    {
        xmlChar *out = NULL;
        int n = sign_once(udoc, ulen, smngr, &out);
        if (n <= 0) die("libxmlsec1 signing failed");
        if (!verify_once((const char *)out, n, vmngr, 1)) die("libxmlsec1 does not verify its own signature");
        if (sign_out) {
            FILE *f = fopen(sign_out, "wb");
            if (!f || fwrite(out, 1, (size_t)n, f) != (size_t)n) die("write --sign-out");
            fclose(f);
        }
        xmlFree(out);
    }
    long errors_before = error_count;
    error_count = 0;

    struct result vs = measure(VERIFY_STRICT, sdoc, slen, vmngr, seconds, rounds);
    long errors_strict = error_count;
    error_count = 0;
    struct result vd = measure(VERIFY_DEFAULT, sdoc, slen, vmngr, seconds, rounds);
    long errors_default = error_count;
    error_count = 0;
    struct result sg = measure(SIGN, udoc, ulen, smngr, seconds, rounds);
    long errors_sign = error_count;
    struct result pa = measure(PARSE, sdoc, slen, NULL, seconds, rounds);

    printf("{\n");
    printf("  \"xmlsec_version\": \"%s\",\n", XMLSEC_VERSION);
    printf("  \"libxml2_version\": \"%s\",\n", LIBXML_DOTTED_VERSION);
    printf("  \"openssl_version\": \"%s\",\n", OpenSSL_version(OPENSSL_VERSION));
    printf("  \"clock\": \"%s\",\n", bench_clock == CLOCK_MONOTONIC ? "wall" : "cpu");
    printf("  \"signed_bytes\": %d,\n  \"unsigned_bytes\": %d,\n", slen, ulen);
    printf("  \"xmlsec_errors_logged_during_checks\": %ld,\n", errors_before);
    print_result("verify_strict", vs, errors_strict, 0);
    print_result("verify_default_keyinfo", vd, errors_default, 0);
    print_result("sign", sg, errors_sign, 0);
    print_result("libxml2_parse", pa, 0, 1);
    printf("}\n");

    free(sdoc);
    free(udoc);
    xmlSecKeysMngrDestroy(vmngr);
    xmlSecKeysMngrDestroy(smngr);
    xmlSecCryptoShutdown();
    xmlSecCryptoAppShutdown();
    xmlSecShutdown();
    xmlCleanupParser();
    return 0;
}
