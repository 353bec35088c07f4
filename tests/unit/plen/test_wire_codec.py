import pytest

from plen.wire import codec
from plen.wire.cluster import CopyBlock, DeleteBlock, HeartbeatResponse
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import DirEntry, FileEntry, StatResponse, WalkItem, WalkResponse
from plen.wire.types import Replica


def test_round_trip_nested_messages_and_unions():
    msg = WalkResponse(items=[
        WalkItem(key="a", entry=FileEntry(name="a", size=1, mtime=1.5, md5="m")),
        WalkItem(key="d/", entry=DirEntry(name="d", mtime=2.0, marker=True))], truncated=True)
    assert codec.loads(WalkResponse, codec.dumps(msg)) == msg


def test_commands_decode_to_their_own_kind():
    resp = HeartbeatResponse(commands=[
        DeleteBlock(block_id="0" * 32),
        CopyBlock(block_id="1" * 32, size=3, crc32c=4, token="t",
                  sources=[Replica(server_id="a" * 16, url="http://x")])])
    back = codec.loads(HeartbeatResponse, codec.dumps(resp))
    assert back == resp and isinstance(back.commands[1], CopyBlock)


def test_unknown_fields_and_wrong_types_are_invalid():
    for raw in [b'{"file": null, "dir": null, "extra": 1}', b'{"file": 3, "dir": null}',
                b"not json", b'{"file": null}']:
        with pytest.raises(WireError) as info:
            codec.loads(StatResponse, raw)
        assert info.value.code is ErrorCode.INVALID


def test_wire_error_survives_json_round_trip():
    err = WireError(ErrorCode.PIPELINE_FAILED, "hop down", failed_url="http://x")
    back = WireError.from_json(err.to_json())
    assert back.code is ErrorCode.PIPELINE_FAILED and back.details == {"failed_url": "http://x"}
    assert back.definite is True
    assert WireError(ErrorCode.TIMEOUT, "t").definite is False
