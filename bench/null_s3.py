"""The benchmark client's own ceiling: boto3 against an S3 endpoint that does no work.

``python bench/null_s3.py FILE`` serves on a free loopback port (printed on its first line):
any PUT gets ``100 Continue`` when asked, its body is read and dropped, and the answer is
200; any GET is answered with FILE through sendfile. No signature is checked and nothing is
kept, so what boto3 reaches against it is what this client can do on this machine at all:
a server can only come close to it, never beat it.

``client_mbps`` runs the benchmark's own put_object / get_object calls against such a
server and returns both rates.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

PutStream = Callable[[Any, str, str, Path], float]
GetStream = Callable[[Any, str, str, Path, str], float]

_CHUNK = 1 << 20
_HEAD_LIMIT = 64 * 1024


async def _serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     path: Path) -> None:
    loop = asyncio.get_running_loop()
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method = request_line.split(" ", 1)[0]
            headers = {name.strip().lower(): value.strip() for name, _, value in
                       (line.partition(":") for line in lines if ":" in line)}
            if method == "PUT":
                if headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                left = int(headers.get("content-length", "0"))
                while left:
                    piece = await reader.read(min(left, _CHUNK))
                    if not piece:
                        return
                    left -= len(piece)
                writer.write(b'HTTP/1.1 200 OK\r\nETag: "0"\r\nContent-Length: 0\r\n\r\n')
                await writer.drain()
            else:
                size = path.stat().st_size
                writer.write(f'HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nETag: "0"\r\n'
                             f"Content-Type: application/octet-stream\r\n\r\n".encode())
                await writer.drain()
                with open(path, "rb") as f:
                    await loop.sendfile(writer.transport, f)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _main(path: Path) -> None:
    server = await asyncio.start_server(lambda r, w: _serve_one(r, w, path), "127.0.0.1", 0,
                                        limit=_HEAD_LIMIT)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def client_mbps(directory: Path, size: int, put: PutStream,
                get: GetStream) -> tuple[float, float]:
    """(put MiB/s, get MiB/s): the benchmark's own one-stream calls (bench_s3's
    large_put_stream and large_get_stream, which checks the MD5 read back) against a null
    endpoint, ``size`` bytes each way."""
    import boto3
    from botocore.config import Config

    from bench.bench_dfs import MiB, make_file

    src = directory / "null-s3.src"
    md5 = make_file(src, size)
    child = subprocess.Popen([sys.executable, __file__, str(src)], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}",
                              aws_access_key_id="null", aws_secret_access_key="null",
                              region_name="us-east-1",
                              config=Config(s3={"addressing_style": "path"}))
        put_s = put(client, "null", "k", src)
        get_s = get(client, "null", "k", directory / "null-s3.dst", md5)
        return size / MiB / put_s, size / MiB / get_s
    finally:
        child.kill()
        child.wait(10)
        src.unlink(missing_ok=True)


if __name__ == "__main__":
    asyncio.run(_main(Path(sys.argv[1])))
