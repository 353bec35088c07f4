"""gateway/s3/ops/multipart.py's limits without a cluster: an object over 5 TiB is refused
before the nameserver is asked to complete it; part numbers outside 1..10,000 (or not plain
ASCII digits) are InvalidArgument, never a ValueError."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from multidict import CIMultiDict, MultiDict

from gateway.s3.errors import S3Error
from gateway.s3.ops import multipart

TiB = 1024 ** 4


class FakeNameserver:
    def __init__(self) -> None:
        self.completed = False

    async def complete_upload(self, request):  # pragma: no cover - must not be reached
        self.completed = True
        raise AssertionError("complete_upload called for an object over 5 TiB")


def fake_s3(query: dict[str, str], body: bytes = b"") -> SimpleNamespace:
    async def read_xml() -> bytes:
        return body

    return SimpleNamespace(check_key=lambda: None, query=MultiDict(query),
                           headers=CIMultiDict(), read_xml=read_xml,
                           fs=SimpleNamespace(nameserver=FakeNameserver()),
                           object_path="/b/k", bucket="b", key="k")


def complete_body(numbers: list[int]) -> bytes:
    return ("<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>e{n}</ETag></Part>" for n in numbers)
        + "</CompleteMultipartUpload>").encode()


async def test_complete_over_5_tib_is_entity_too_large(monkeypatch):
    numbers = list(range(1, 1027))  # 1,026 parts of 5 GiB: just over 5 TiB

    async def all_parts(s3, upload_id):
        return {n: SimpleNamespace(size=5 * 1024 ** 3, checksums={}) for n in numbers}

    monkeypatch.setattr(multipart, "_all_parts", all_parts)
    s3 = fake_s3({"uploadId": "u"}, complete_body(numbers))
    with pytest.raises(S3Error) as info:
        await multipart.complete_multipart_upload(s3)
    assert (info.value.code, info.value.status) == ("EntityTooLarge", 400)
    assert not s3.fs.nameserver.completed
    assert 1026 * 5 * 1024 ** 3 > multipart.MAX_OBJECT_BYTES == 5 * TiB


async def test_complete_of_exactly_5_tib_is_passed_on(monkeypatch):
    async def all_parts(s3, upload_id):
        return {1: SimpleNamespace(size=5 * TiB, checksums={})}

    monkeypatch.setattr(multipart, "_all_parts", all_parts)
    s3 = fake_s3({"uploadId": "u"}, complete_body([1]))
    with pytest.raises(AssertionError, match="complete_upload called"):
        await multipart.complete_multipart_upload(s3)


@pytest.mark.parametrize("raw", ["0", "10001", "", "-1", "1.5", "x", "²", "١", "1" * 5000,
                                 " 1", "+1"])
def test_part_numbers_outside_1_to_10000_are_invalid_argument(raw):
    with pytest.raises(S3Error) as info:
        multipart.part_number_of(fake_s3({"partNumber": raw}))
    assert (info.value.code, info.value.status) == ("InvalidArgument", 400)


@pytest.mark.parametrize("raw, number", [("1", 1), ("10000", 10000), ("0042", 42)])
def test_part_numbers_in_range_are_read(raw, number):
    assert multipart.part_number_of(fake_s3({"partNumber": raw})) == number
