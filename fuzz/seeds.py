#!/usr/bin/env python3
"""Build the seed corpora in fuzz/corpus/<target>/ (not in git) from ../shared/testdata/notation
and the small hand-written seeds in fuzz/seeds/<target>/ (in git). Idempotent: seeds are
named by their sha1, so rerunning adds nothing new and keeps what the fuzzer found."""

import hashlib
import json
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
TD = pathlib.Path(os.environ.get("PG_TESTDATA", HERE.parent.parent / "shared/testdata/notation"))
OUT = pathlib.Path(os.environ.get("PG_FUZZ_CORPUS", HERE / "corpus"))
SEP = b"\n--pg--\n"


def add(target, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def files(*globs):
    for g in globs:
        for p in sorted(TD.glob(g)):
            if p.is_file():
                yield p


def main():
    if not TD.is_dir():
        sys.exit(f"seeds.py: no test data at {TD}")
    for p in (HERE / "seeds").glob("*/*"):
        add(p.parent.name, p.read_bytes())
    for p in files("envelopes/jws/*", "envelopes/malformed/*.jws"):
        add("envelope_jws", p.read_bytes())
    for p in files("envelopes/cose/*", "envelopes/malformed/*.bin"):
        add("envelope_cose", p.read_bytes())
    for p in files("policies/valid/*.json", "policies/invalid/*.json"):
        add("trust_policy", p.read_bytes())
    certs = list(files("certs/*/*", "truststores/**/x509/*/*/*"))
    for p in certs:
        add("truststore_cert", p.read_bytes())
    for p in files("certs/revocation-e2e/*.crl"):
        add("revocation_answers", p.read_bytes())
    for p in files("certs/signing/*.pem", "certs/revocation-e2e/*.pem", "certs/tsa-roots/*.pem"):
        add("cert_chain", p.read_bytes())
    # DER chains, one certificate a part (the PEM chains re-encoded).
    for p in files("certs/signing/*.pem"):
        ders = pem_blocks(p.read_bytes())
        if len(ders) > 1:
            add("cert_chain", SEP.join(ders))
    for p in files("timestamp-tokens/**/*"):
        add("timestamp_token", p.read_bytes())
    for p in files("oci-layouts/*/index.json", "oci-layouts/*/blobs/sha256/*"):
        b = p.read_bytes()
        if len(b) < 64 * 1024 and b.lstrip().startswith(b"{"):
            add("oci_manifest", b)
    discovery()


def pem_blocks(b):
    import base64

    out = []
    for part in b.split(b"-----BEGIN CERTIFICATE-----")[1:]:
        body = part.split(b"-----END CERTIFICATE-----")[0]
        out.append(base64.b64decode(b"".join(body.split())))
    return out


def discovery():
    """Registry answers from every e2e layout: the signature manifests that name a subject,
    rewritten with placeholders so that mutated answers keep pointing at each other."""
    ct = b"application/vnd.oci.image.index.v1+json"
    for layout in sorted(TD.glob("oci-layouts/*/")):
        blobs = layout / "blobs/sha256"
        for p in sorted(blobs.glob("*")):
            try:
                m = json.loads(p.read_bytes())
            except Exception:
                continue
            if not isinstance(m, dict) or "subject" not in m or not m.get("layers"):
                continue
            layer = m["layers"][0]
            env = (blobs / layer["digest"].split(":")[1]).read_bytes()
            m["subject"] = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": "@TARGET@", "size": 0}
            layer["digest"], layer["size"] = "@ENV@", 0
            sig = json.dumps(m).replace('"size": 0', '"size": @SIZE@')
            sig = sig.replace('"digest": "@TARGET@", "size": @SIZE@', '"digest": "@TARGET@", "size": @TARGETSIZE@')
            sig = sig.replace('"digest": "@ENV@", "size": @SIZE@', '"digest": "@ENV@", "size": @ENVSIZE@')
            desc = ('{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"@SIG@",'
                    '"size":@SIGSIZE@,"artifactType":"application/vnd.cncf.notary.signature"}')
            index = ('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'
                     '"manifests":[' + desc + ']}').encode()
            empty = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
            challenge = b'Bearer realm="https://auth.invalid/token",service="registry",scope="repository:fuzz/app:pull"'
            # Referrers API answers.
            add("discovery", SEP.join([b"200 " + ct + b"\n", index, b"", b"", sig.encode(), env, challenge]))
            # Two pages.
            add("discovery", SEP.join([b"200 " + ct + b'\n</v2/fuzz/app/referrers/x?n=1>; rel="next"',
                                       empty, index, b"", sig.encode(), env, b"Basic realm=x"]))
            # No Referrers API: the tag schema.
            add("discovery", SEP.join([b"404 application/json\n", b'{"errors":[{"code":"NOT_FOUND"}]}',
                                       b"", index, sig.encode(), env, b""]))


if __name__ == "__main__":
    main()
