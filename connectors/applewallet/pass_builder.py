"""A member's card as `.pkpass` bytes: pass.json, pictures, strings, manifest, signature, zipped.

A .pkpass is a ZIP archive of the pass's files at its top level (Apple, "Building a Pass": "Create
the signed bundle"). Entries are written in sorted order with the card's `updated_at` as their time
and fixed permissions, so the same card gives the same archive except for the signature's
signing-time. Served as `application/vnd.apple.pkpass` (web_service.PASS_CONTENT_TYPE).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Mapping

from connectors.applewallet.errors import PassContentError
from connectors.applewallet.images import pass_images
from connectors.applewallet.pass_json import LOCALES, MemberCard, pass_json_bytes, pass_strings
from connectors.applewallet.signing import PassSigner, manifest_json, sign_manifest

MANIFEST = "manifest.json"
SIGNATURE = "signature"
ZIP_EPOCH = dt.datetime(1980, 1, 1, tzinfo=dt.UTC)  # the earliest time a ZIP entry can carry


def pass_files(card: MemberCard, images: Mapping[str, bytes] | None = None) -> dict[str, bytes]:
    """Every file of the pass that the manifest lists: pass.json, the images, ru/en pass.strings."""
    files = {"pass.json": pass_json_bytes(card)}
    files.update(pass_images(card.colors, images))
    for locale in LOCALES:
        files[f"{locale}.lproj/pass.strings"] = pass_strings(locale)
    return files


def build_pkpass(card: MemberCard, signer: PassSigner, images: Mapping[str, bytes] | None = None) -> bytes:
    """The signed .pkpass of a member's store card."""
    files = pass_files(card, images)  # the card is checked first: its faults are the admin's to fix
    signer.check_pass(card.pass_type_identifier, card.team_identifier)
    manifest = manifest_json(files)
    files[MANIFEST] = manifest
    files[SIGNATURE] = sign_manifest(manifest, signer)
    return zip_bundle(files, card.updated_at)


def zip_bundle(files: Mapping[str, bytes], modified_at: dt.datetime) -> bytes:
    """A deflated ZIP of the files in sorted order, every entry stamped with modified_at (UTC)."""
    stamp = _zip_time(modified_at)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            entry = zipfile.ZipInfo(name, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, files[name])
    return buffer.getvalue()


def _zip_time(at: dt.datetime) -> tuple[int, int, int, int, int, int]:
    if at.tzinfo is None:
        raise PassContentError("updated_at needs an aware datetime")
    at = max(at.astimezone(dt.UTC), ZIP_EPOCH)
    return (at.year, at.month, at.day, at.hour, at.minute, at.second)
