"""C2PA manifests (c2pa-python, pinned 0.38.1): sign labelled outputs, read and validate inbound ones.

Signing needs an X.509 certificate chain (PEM, leaf first) and its private key. They come from explicit
paths, else the settings ``c2pa_cert`` / ``c2pa_key`` / ``c2pa_alg`` (when the lead adds them), else the
environment ``ZHIMEI_C2PA_CERT`` / ``ZHIMEI_C2PA_KEY`` / ``ZHIMEI_C2PA_ALG``. With none of those, zhimei makes
a local development chain once (an ES256 root and a leaf under ``$ZHIMEI_HOME/keys/c2pa``, mode 600):
manifests then validate (state ``Valid``: every hash and the signature check out) but are not ``Trusted``
anywhere, because no trust list holds that root. C2PA reports this as the failure code
``signingCredential.untrusted`` — the one failure expected with a development or test certificate. Put a
root in ``c2pa_trust_anchors`` / ``ZHIMEI_C2PA_TRUST_ANCHORS`` (PEM) to have manifests it signed read as
``Trusted``. Any other failure code (``assertion.dataHash.mismatch``, ``claimSignature.mismatch`` …) means
the file was altered after signing: the reader reports it as tampered.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhimei.review.labels.aigc import AigcLabel, LabelError
from zhimei.settings import get_settings

__all__ = ["C2paConfig", "c2pa_config", "make_dev_chain", "sign_c2pa", "read_c2pa", "C2PA_MIMES",
           "EXPECTED_UNTRUSTED", "AIGC_ASSERTION", "c2pa_version"]

C2PA_MIMES = {"jpeg": "image/jpeg", "png": "image/png", "mp4": "video/mp4", "mov": "video/quicktime",
              "mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac"}
EXPECTED_UNTRUSTED = frozenset({"signingCredential.untrusted"})
"""Failure codes that only say the signer is not on a trust list (development or test certificates)."""
AIGC_ASSERTION = "cn.tc260.aigc"
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE_TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
_ALGS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")
_DEV_LOCK = threading.Lock()


def c2pa_version() -> str:
    """The c2pa-python version and the c2pa-rs SDK inside it."""
    import c2pa

    return f"c2pa-python {c2pa.__version__} (c2pa-rs {c2pa.sdk_version()})"


@dataclass(frozen=True)
class C2paConfig:
    """Where the signing chain and key are, the algorithm, the trust anchors, and a timestamp authority."""

    cert: Path
    key: Path
    alg: str = "es256"
    trust_anchors: Path | None = None
    tsa_url: str | None = None
    development: bool = False


def _setting(name: str) -> Any:
    return getattr(get_settings(), name, None) or os.environ.get(f"ZHIMEI_{name.upper()}") or None


def c2pa_config(cert: str | os.PathLike[str] | None = None, key: str | os.PathLike[str] | None = None,
                alg: str | None = None, trust_anchors: str | os.PathLike[str] | None = None) -> C2paConfig:
    """The signing configuration: explicit paths, then settings/env, then the local development chain."""
    cert = cert or _setting("c2pa_cert")
    key = key or _setting("c2pa_key")
    alg = (alg or _setting("c2pa_alg") or "es256").lower()
    anchors = trust_anchors or _setting("c2pa_trust_anchors")
    tsa = _setting("c2pa_tsa_url")
    if alg not in _ALGS:
        raise LabelError(f"c2pa_alg {alg!r} is not one of {', '.join(_ALGS)}")
    if bool(cert) != bool(key):
        raise LabelError("set both c2pa_cert and c2pa_key (ZHIMEI_C2PA_CERT / ZHIMEI_C2PA_KEY), or neither")
    development = False
    if not cert:
        folder = get_settings().home / "keys" / "c2pa"
        cert, key, root = make_dev_chain(folder)
        anchors = anchors or root
        development = True
    for what, p in (("certificate chain", cert), ("private key", key)):
        if not Path(p).is_file():
            raise LabelError(f"the C2PA signing {what} {p} does not exist")
    if anchors and not Path(anchors).is_file():
        raise LabelError(f"the C2PA trust anchors file {anchors} does not exist")
    return C2paConfig(Path(cert), Path(key), alg, Path(anchors) if anchors else None, tsa, development)


def make_dev_chain(folder: str | os.PathLike[str], *, common_name: str = "zhimei development signer"
                   ) -> tuple[Path, Path, Path]:
    """An ES256 (P-256) root CA and a leaf fit for C2PA signing, made once: (chain.pem, key.pem, root.pem).

    The leaf has what c2pa-rs checks: not a CA, digitalSignature key usage, the emailProtection extended key
    usage, subject/authority key identifiers, and a chain to a separate root (self-signed leaves are refused).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(folder)
    chain_p, key_p, root_p = folder / "chain.pem", folder / "key.pem", folder / "root.pem"
    with _DEV_LOCK:
        if chain_p.is_file() and key_p.is_file() and root_p.is_file():
            return chain_p, key_p, root_p
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        now = dt.datetime.now(dt.UTC)

        def name(cn: str) -> x509.Name:
            return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                              x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zhimei"),
                              x509.NameAttribute(NameOID.COMMON_NAME, cn)])

        def usage(**on: bool) -> x509.KeyUsage:
            flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                         encipher_only=False, decipher_only=False)
            flags.update(on)
            return x509.KeyUsage(**flags)

        ca_key = ec.generate_private_key(ec.SECP256R1())
        root = (x509.CertificateBuilder().subject_name(name(f"{common_name} root")).issuer_name(
            name(f"{common_name} root")).public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = (x509.CertificateBuilder().subject_name(name(common_name)).issuer_name(root.subject)
                .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=825))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(usage(digital_signature=True), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        pem = serialization.Encoding.PEM
        key_bytes = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        for p, data, mode in ((key_p, key_bytes, 0o600), (root_p, root.public_bytes(pem), 0o644),
                              (chain_p, leaf.public_bytes(pem) + root.public_bytes(pem), 0o644)):
            tmp = p.with_name(f".{p.name}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, p)
    return chain_p, key_p, root_p


def _context(config: C2paConfig | None = None, trust_anchors: Path | None = None):
    import c2pa

    conf: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
                            "builder": {"thumbnail": {"enabled": False}}}
    anchors = trust_anchors or (config.trust_anchors if config else None)
    if anchors:
        conf["trust"] = {"trust_anchors": Path(anchors).read_text()}
    return c2pa.Context(settings=c2pa.Settings.from_dict(conf))


def sign_c2pa(src: str | os.PathLike[str], dst: str | os.PathLike[str], fmt: str, *, title: str,
              aigc: AigcLabel | None = None, parent: str | os.PathLike[str] | None = None,
              action: str = "c2pa.created", config: C2paConfig | None = None) -> dict[str, Any]:
    """Embed a signed C2PA manifest into a copy of src at dst (atomic). Returns a summary.

    With `parent`, that file (and any manifest it carries) becomes the parent ingredient, so earlier
    manifests stay in the chain; without it the action is ``c2pa.created`` by a trained algorithm."""
    import c2pa

    if fmt not in C2PA_MIMES:
        raise LabelError(f"C2PA manifests are embedded in {', '.join(C2PA_MIMES)} files, not {fmt}")
    mime = C2PA_MIMES[fmt]
    config = config or c2pa_config()
    actions: list[dict[str, Any]] = []
    if parent is not None:
        actions.append({"action": "c2pa.opened", "parameters": {"ingredientIds": ["zhimei-parent"]}})
        actions.append({"action": action if action != "c2pa.created" else "c2pa.edited"})
    else:
        source_type = TRAINED if (aigc is None or aigc.Label == "1") else COMPOSITE_TRAINED
        actions.append({"action": "c2pa.created", "digitalSourceType": source_type})
    assertions: list[dict[str, Any]] = [{"label": "c2pa.actions.v2", "data": {"actions": actions}}]
    if aigc is not None:
        assertions.append({"label": AIGC_ASSERTION, "data": {"AIGC": aigc.to_dict()}})
    manifest = {"claim_generator_info": [{"name": "zhimei", "version": "0.1.0"}], "title": title[:200],
                "format": mime, "assertions": assertions}
    dst_p = Path(dst)
    tmp = dst_p.with_name(f".{dst_p.name}.c2pa-tmp")
    try:
        info = c2pa.C2paSignerInfo(config.alg, config.cert.read_bytes(), config.key.read_bytes(),
                                   config.tsa_url)
        signer = c2pa.Signer.from_info(info)
        builder = c2pa.Builder(json.dumps(manifest), context=_context(config))
        try:
            if parent is not None:
                with open(parent, "rb") as pf:
                    builder.add_ingredient({"title": "parent", "relationship": "parentOf", "label": "zhimei-parent"},
                                           mime, pf)
            with open(src, "rb") as source, open(tmp, "w+b") as out:
                builder.sign(signer, mime, source, out)
        finally:
            builder.close()
            signer.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst_p)
    except c2pa.C2paError as exc:
        raise LabelError(f"C2PA signing failed: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return {"signed": True, "alg": config.alg, "development_certificate": config.development,
            "actions": [a["action"] for a in actions]}


def _summary(reader) -> dict[str, Any]:
    store = json.loads(reader.json())
    active_label = store.get("active_manifest")
    manifests = store.get("manifests") or {}
    active = manifests.get(active_label) or {}
    actions, aigc = [], None
    for a in active.get("assertions") or []:
        label = a.get("label", "")
        if label.startswith("c2pa.actions"):
            for act in (a.get("data") or {}).get("actions") or []:
                actions.append({k: act.get(k) for k in ("action", "digitalSourceType", "when") if act.get(k)})
        elif label == AIGC_ASSERTION:
            aigc = (a.get("data") or {}).get("AIGC")
    sig = active.get("signature_info") or {}
    gen = active.get("claim_generator_info") or [{}]
    return {"active_manifest": active_label, "manifests": len(manifests), "title": active.get("title"),
            "claim_generator": (gen[0] or {}).get("name") if gen else active.get("claim_generator"),
            "issuer": sig.get("issuer"), "common_name": sig.get("common_name"), "signed_at": sig.get("time"),
            "alg": sig.get("alg"), "actions": actions, "aigc": aigc,
            "ingredients": [i.get("title") for i in active.get("ingredients") or []],
            "ai_generated": any(a.get("digitalSourceType") in (TRAINED, COMPOSITE_TRAINED) for a in actions)
            or any(a.get("digitalSourceType") in (TRAINED, COMPOSITE_TRAINED)
                   for m in manifests.values() for asr in m.get("assertions") or []
                   if asr.get("label", "").startswith("c2pa.actions")
                   for a in (asr.get("data") or {}).get("actions") or [])}


def read_c2pa(path: str | os.PathLike[str], *, trust_anchors: str | os.PathLike[str] | None = None
              ) -> dict[str, Any]:
    """The file's C2PA manifest store as a summary with its validation state.

    ``present`` False when there is none; ``state`` is c2pa's validation state (Invalid, Valid, Trusted);
    ``tampered`` is True when a failure other than the expected ``signingCredential.untrusted`` is reported."""
    import c2pa

    anchors = Path(trust_anchors) if trust_anchors else None
    if anchors is None:
        configured = _setting("c2pa_trust_anchors")
        dev_root = get_settings().home / "keys" / "c2pa" / "root.pem"
        anchors = Path(configured) if configured and Path(configured).is_file() else (
            dev_root if dev_root.is_file() else None)
    fh = open(path, "rb")  # noqa: SIM115  (closed below, after the reader is done with the stream)
    try:
        reader = c2pa.Reader.try_create(None, fh, None, _context(trust_anchors=anchors))
    except c2pa.C2paError as exc:
        fh.close()
        msg = str(exc)
        # a manifest store that is there but cannot be parsed is itself evidence of tampering
        broken = "jumbf" in msg.lower() or "manifest" in msg.lower() or "claim" in msg.lower()
        return {"present": broken, "state": "Invalid" if broken else None, "tampered": broken,
                "error": msg[:500], "failures": [], "unsupported": not broken}
    if reader is None:
        fh.close()
        return {"present": False, "state": None, "tampered": False, "failures": []}
    try:
        state = reader.get_validation_state()
        results = reader.get_validation_results() or {}
        summary = _summary(reader)
    finally:
        reader.close()
        fh.close()
    active = results.get("activeManifest") or {}
    failures = [{"code": f.get("code"), "explanation": f.get("explanation")} for f in active.get("failure") or []]
    for ing in results.get("ingredientDeltas") or []:
        for f in (ing.get("validationDeltas") or {}).get("failure") or []:
            failures.append({"code": f.get("code"), "explanation": f.get("explanation"), "ingredient": True})
    serious = [f for f in failures if f["code"] not in EXPECTED_UNTRUSTED and not f.get("ingredient")]
    return {"present": True, "state": state, "tampered": state == "Invalid" or bool(serious),
            "trusted": state == "Trusted", "failures": failures,
            "untrusted_signer": any(f["code"] in EXPECTED_UNTRUSTED for f in failures), **summary}
