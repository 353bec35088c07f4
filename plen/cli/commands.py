"""The file commands: init status ls cd pwd mkdir rmdir put get touch cp mv rm stat.

Rule 1: arguments are resolved POSIX-style against the working directory (``plen cd``)
before they reach the nameserver (``plen.paths.resolve``).
Rule 2: when a file and a directory share a name (S3 keys ``a`` and ``a/b``), get, cp, mv,
rm and stat act on the file; ls, cd and rmdir on the directory.
Rule 3: a command fails by raising (``WireError``, ``OSError``, ``CliError``); ``main``
turns that into one line. Each command first says what it is doing (``app.doing``).
Rule 4: with ``--json`` a command prints one document (``plen.cli.jsonout``) once it has
succeeded, and nothing else on stdout; ``get REMOTE -`` prints only the file's bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import os
import sys
import tempfile
from typing import Any, BinaryIO

import click

from plen import paths
from plen.cli import config
from plen.cli import jsonout as js
from plen.cli.main import AppContext
from plen.cli.output import console, fmt_time, human_size, progress_bar, safe
from plen.cli.servers import fmt_duration, server_table
from plen.client.fs import FileSystem
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import DirEntry, FileEntry, StatResponse

pass_app = click.make_pass_decorator(AppContext)


def _missing(path: str) -> WireError:
    return WireError(ErrorCode.NOT_FOUND, f"no such file or directory: {path}", path=path)


async def _is_dir(fs: FileSystem, path: str) -> bool:
    if path == "/":
        return True
    try:
        return (await fs.stat(path)).dir is not None
    except WireError as err:
        if err.code in (ErrorCode.NOT_A_DIRECTORY, ErrorCode.NOT_FOUND):
            return False  # a parent is a file, or missing: the write will say so
        raise


async def _into_dir(fs: FileSystem, raw_arg: str, resolved: str, name: str) -> str:
    """``resolved/name`` when the destination is an existing directory or ends in ``/``."""
    if raw_arg.endswith("/") or await _is_dir(fs, resolved):
        return paths.join(resolved, name)
    return resolved


# -- cluster --------------------------------------------------------------------------------


@click.command()
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@js.json_option
@pass_app
def init(app: AppContext, yes: bool) -> None:
    """Wipe the file system: every file and directory on the cluster is deleted."""
    url = app.nameserver_url()
    app.doing("init")
    if not yes:
        click.confirm(f"Delete every file and directory on the cluster at {url}?",
                      abort=True, err=True)

    async def go(fs: FileSystem) -> Any:
        await fs.init(confirm=True)
        return await fs.cluster_status()

    status = app.run(go)
    live = sum(1 for s in status.servers if s.state == "live")
    if app.json:
        js.emit({"nameserver": url, "initialised": True, "live_servers": live,
                 "capacity_bytes": status.capacity_bytes, "free_bytes": status.free_bytes,
                 "replication_factor": status.replication_factor})
        return
    click.echo(f"initialised the file system at {url}: {human_size(status.free_bytes)} free "
               f"of {human_size(status.capacity_bytes)} on {live} live server"
               f"{'' if live == 1 else 's'} (replication {status.replication_factor})")


@click.command()
@js.json_option
@pass_app
def status(app: AppContext) -> None:
    """Show the cluster's servers, capacity, bytes at risk and repair progress."""
    app.doing("status")
    st = app.run(lambda fs: fs.cluster_status())
    if app.json:
        js.emit(js.status_doc(app.nameserver_url(), st))
        return
    table = server_table(st.servers, f"Plenilune cluster at {app.nameserver_url()}")
    live = sum(1 for s in st.servers if s.state == "live")
    table.add_section()
    table.add_row("total", f"{live} live of {len(st.servers)}", "", "",
                  human_size(st.capacity_bytes), human_size(st.used_bytes), str(st.blocks))
    out = console()
    out.print(table)
    under = st.under_replicated_blocks
    out.print(f"files: {st.files}   free: {human_size(st.free_bytes)}   replication: "
              f"{st.replication_factor}   under-replicated blocks: {under}",
              style="yellow" if under else None)
    if under:
        out.print(f"at risk: {human_size(st.bytes_below_rf)} below {st.replication_factor} "
                  f"copies, {human_size(st.bytes_below_2)} below 2, "
                  f"{st.missing_blocks} blocks with no live copy",
                  style="red" if st.bytes_below_2 else "yellow")
        eta = fmt_duration(st.repair_eta_s) if st.repair_eta_s is not None else "unknown"
        out.print(f"repair: {human_size(st.repair_bytes_left)} to copy at "
                  f"{human_size(int(st.repair_rate_bytes_per_s))}/s, ETA {eta}")


# -- directories ----------------------------------------------------------------------------


def _ls_line(entry: FileEntry | DirEntry, long: bool) -> str:
    name = safe(entry.name) + ("/" if isinstance(entry, DirEntry) else "")
    if not long:
        return name
    if isinstance(entry, DirEntry):
        return f"{'-':>14}  {fmt_time(entry.mtime):19}  {'-':32}  {name}"
    return f"{entry.size:>14}  {fmt_time(entry.mtime):19}  {entry.md5:32}  {name}"


@click.command()
@click.option("-l", "long", is_flag=True, help="Also show size, mtime and MD5.")
@click.argument("path", required=False)
@js.json_option
@pass_app
def ls(app: AppContext, long: bool, path: str | None) -> None:
    """List a directory (dirs end in '/'), or show one file.

    With --json: {"path", "type", "entries": [file or dir, ...]} (-l changes nothing).
    """
    target = app.resolve(path or ".")
    app.doing("ls", target)

    async def go(fs: FileSystem) -> None:
        if target != "/":
            st = await fs.stat(target)
            if st.dir is None:
                if st.file is None:
                    raise _missing(target)
                if app.json:
                    js.emit({"path": target, "type": "file",
                             "entries": [js.file_doc(target, st.file)]})
                else:
                    click.echo(_ls_line(st.file, long))
                return
        if not app.json:
            async for entry in fs.iter_dir(target):
                click.echo(_ls_line(entry, long))
            return
        # The first entry is fetched before the document opens, so that a failure before
        # any entry leaves stdout empty rather than half a document.
        entries = fs.iter_dir(target)
        first = await anext(entries, None)
        out = js.ListingWriter({"path": target, "type": "dir"}, "entries")
        if first is not None:
            out.add(js.entry_doc(target, first))
            async for entry in entries:
                out.add(js.entry_doc(target, entry))
        out.close()

    app.run(go)


@click.command()
@click.argument("path", required=False, default="/")
@js.json_option
@pass_app
def cd(app: AppContext, path: str) -> None:
    """Change the working directory (it must exist)."""
    url = app.nameserver_url()
    target = app.resolve(path)
    app.doing("cd", target)

    async def go(fs: FileSystem) -> None:
        if target == "/":
            return
        st = await fs.stat(target)
        if st.dir is None:
            if st.file is not None:
                raise WireError(ErrorCode.NOT_A_DIRECTORY, f"{target} is a file")
            raise _missing(target)

    app.run(go)
    config.save_cwd(url, target)
    if app.json:
        js.emit({"cwd": target})


@click.command()
@js.json_option
@pass_app
def pwd(app: AppContext) -> None:
    """Print the working directory."""
    if app.json:
        js.emit({"cwd": app.cwd()})
        return
    click.echo(safe(app.cwd()))


@click.command()
@click.option("-p", "--parents", is_flag=True,
              help="Create missing parents; no error if it exists.")
@click.argument("path")
@js.json_option
@pass_app
def mkdir(app: AppContext, parents: bool, path: str) -> None:
    """Create a directory (kept even when empty)."""
    target = app.resolve(path)
    app.doing("mkdir", target)
    made = app.run(lambda fs: fs.mkdir(target, parents=parents, exist_ok=parents))
    if app.json:
        js.emit({**js.dir_doc(target, made.dir), "created": made.created})


@click.command()
@click.option("-r", "--recursive", is_flag=True, help="Also remove everything below it.")
@click.argument("path")
@js.json_option
@pass_app
def rmdir(app: AppContext, recursive: bool, path: str) -> None:
    """Remove a directory; refuses a non-empty one without -r."""
    target = app.resolve(path)
    app.doing("rmdir", target)

    async def go(fs: FileSystem) -> None:
        if target != "/":
            st = await fs.stat(target)
            if st.dir is None:
                if st.file is not None:
                    raise WireError(ErrorCode.NOT_A_DIRECTORY, f"{target} is a file")
                raise _missing(target)
        await fs.rmdir(target, recursive=recursive)

    app.run(go)
    if app.json:
        js.emit({"path": target, "type": "dir", "removed": True})


# -- files ----------------------------------------------------------------------------------


@click.command()
@click.option("-p", "--parents", is_flag=True, help="Create missing parent directories.")
@click.argument("local")
@click.argument("remote")
@js.json_option
@pass_app
def put(app: AppContext, parents: bool, local: str, remote: str) -> None:
    """Upload LOCAL ('-' = stdin) to REMOTE (into it, when it is a directory)."""
    target = app.resolve(remote)
    app.doing("put", target)
    stream: BinaryIO
    if local == "-":
        stream, size, name = sys.stdin.buffer, None, None
    else:
        app.doing("put", local)
        stream = open(local, "rb")  # noqa: SIM115 (closed below)
        size = os.fstat(stream.fileno()).st_size
        name = os.path.basename(os.path.normpath(local))
        app.doing("put", target)

    async def go(fs: FileSystem) -> tuple[str, FileEntry]:
        dest = target
        if remote.endswith("/") or await _is_dir(fs, target):
            if name is None:
                raise click.UsageError("cannot put stdin into a directory: name the file")
            dest = paths.join(target, name)
        app.doing("put", dest)
        content_type = mimetypes.guess_type(dest)[0]
        with progress_bar(size, f"put {dest}") as progress:
            return dest, await fs.write_file(dest, stream, parents=parents,
                                             content_type=content_type, progress=progress)

    try:
        dest, written = app.run(go)
    finally:
        if local != "-":
            stream.close()
    if app.json:
        source = "-" if local == "-" else os.path.abspath(local)
        js.emit({**js.file_doc(dest, written), "source": source})


def _local_mode(dest: str) -> int:
    """Permissions for the downloaded file: the old file's, else 0666 less the umask."""
    try:
        return os.stat(dest).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@click.command()
@click.argument("remote")
@click.argument("local", required=False, default=".")
@js.json_option
@pass_app
def get(app: AppContext, remote: str, local: str) -> None:
    """Download REMOTE to LOCAL ('-' = stdout; a directory: into it).

    With --json, the file's document and where it was written ("local"); to stdout ('-')
    the bytes are the output and no document is printed.

    The file is written to a temporary file beside LOCAL and renamed over it at the end,
    so a failure leaves any previous LOCAL untouched.
    """
    src = app.resolve(remote)
    app.doing("get", src)

    async def go(fs: FileSystem) -> tuple[FileEntry, str | None]:
        entry = await fs.stat_file(src, with_blocks=True)
        if local == "-":
            out = sys.stdout.buffer
            async with contextlib.aclosing(fs.read_file(entry, path=src)) as chunks:
                async for chunk in chunks:
                    out.write(chunk)
            out.flush()
            return entry, None
        dest = local
        if os.path.isdir(dest):
            dest = os.path.join(dest, entry.name)
        directory = os.path.dirname(os.path.abspath(dest))
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dest)[:64]}.",
                                   suffix=".plen-part", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f, progress_bar(entry.size, f"get {src}") as progress:
                async with contextlib.aclosing(fs.read_file(entry, path=src)) as chunks:
                    async for chunk in chunks:
                        await asyncio.to_thread(f.write, chunk)
                        if progress is not None:
                            progress(len(chunk))
                await asyncio.to_thread(f.flush)
                await asyncio.to_thread(os.fsync, f.fileno())
            os.chmod(tmp, _local_mode(dest))
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return entry, dest

    entry, dest = app.run(go)
    if app.json and dest is not None:
        js.emit({**js.file_doc(src, entry), "local": os.path.abspath(dest)})


@click.command()
@click.argument("path")
@js.json_option
@pass_app
def touch(app: AppContext, path: str) -> None:
    """Create an empty file, or refresh the mtime of an existing one."""
    target = app.resolve(path)
    app.doing("touch", target)

    async def go(fs: FileSystem) -> FileEntry:
        st = await fs.stat(target)
        if st.file is not None:
            return await fs.copy_file(target, target)  # same blocks, new mtime
        if st.dir is not None or target == "/":
            raise WireError(ErrorCode.IS_A_DIRECTORY, f"{target} is a directory")
        return await fs.write_file(target, b"")

    touched = app.run(go)
    if app.json:
        js.emit(js.file_doc(target, touched))


@click.command()
@click.argument("src")
@click.argument("dst")
@js.json_option
@pass_app
def cp(app: AppContext, src: str, dst: str) -> None:
    """Copy a file on the cluster (no bytes move: the copy shares the blocks)."""
    source, target = app.resolve(src), app.resolve(dst)
    app.doing("cp", source)

    async def go(fs: FileSystem) -> tuple[str, FileEntry]:
        entry = await fs.stat_file(source)
        dest = await _into_dir(fs, dst, target, entry.name)
        app.doing("cp", dest)
        return dest, await fs.copy_file(source, dest)

    dest, copied = app.run(go)
    if app.json:
        js.emit({**js.file_doc(dest, copied), "source": source})


@click.command()
@click.argument("src")
@click.argument("dst")
@js.json_option
@pass_app
def mv(app: AppContext, src: str, dst: str) -> None:
    """Move or rename a file or a whole directory (atomic, O(1))."""
    source, target = app.resolve(src), app.resolve(dst)
    app.doing("mv", source)

    async def go(fs: FileSystem) -> tuple[str, str]:
        if source == "/":
            raise WireError(ErrorCode.INVALID, "cannot move the root directory")
        st = await fs.stat(source)
        if st.file is None and st.dir is None:
            raise _missing(source)
        kind = "file" if st.file is not None else "dir"
        dest = await _into_dir(fs, dst, target, paths.parent_and_name(source)[1])
        app.doing("mv", dest)
        await fs.rename(source, dest, kind=kind)
        return dest, kind

    dest, kind = app.run(go)
    if app.json:
        js.emit({"path": dest, "type": kind, "source": source})


@click.command()
@click.option("-r", "--recursive", is_flag=True, help="Remove a directory and all below it.")
@click.argument("path")
@js.json_option
@pass_app
def rm(app: AppContext, recursive: bool, path: str) -> None:
    """Remove a file (a directory only with -r)."""
    target = app.resolve(path)
    app.doing("rm", target)

    async def go(fs: FileSystem) -> str:
        st = await fs.stat(target) if target != "/" else StatResponse(file=None, dir=DirEntry(
            name="", mtime=0.0, marker=True))
        if st.file is not None:
            await fs.delete_file(target)
            return "file"
        if st.dir is not None:
            if not recursive:
                raise WireError(ErrorCode.IS_A_DIRECTORY, f"{target} is a directory")
            await fs.rmdir(target, recursive=True)
            return "dir"
        raise _missing(target)

    kind = app.run(go)
    if app.json:
        js.emit({"path": target, "type": kind, "removed": True})


def _stat_lines(path: str, st: StatResponse) -> list[str]:
    if st.file is None:
        d = st.dir
        assert d is not None
        return [f"path:     {safe(path)}", "type:     directory",
                f"mtime:    {fmt_time(d.mtime)}",
                f"marker:   {'yes' if d.marker else 'no (exists because of what is below)'}"]
    f = st.file
    lines = [f"path:     {safe(path)}", "type:     file",
             f"size:     {f.size} ({human_size(f.size)})", f"mtime:    {fmt_time(f.mtime)}",
             f"md5:      {f.md5}",
             f"crc32c:   {'-' if f.crc32c is None else f'{f.crc32c:08x}'}"]
    if f.content_type:
        lines.append(f"content:  {safe(f.content_type)}")
    for key, value in sorted(f.meta.items()):
        lines.append(f"meta:     {safe(key)}={safe(value)}")
    if st.dir is not None:
        lines.append("also:     a directory of the same name (see 'plen ls')")
    if f.inline:
        lines.append("storage:  inline (in the nameserver's metadata)")
        return lines
    lines.append(f"storage:  {len(f.blocks) or f.block_count} block"
                 f"{'' if (len(f.blocks) or f.block_count) == 1 else 's'}")
    for i, b in enumerate(f.blocks):
        lines.append(f"block {i}:  id {b.block_id}  offset {b.offset}  size {b.size}  "
                     f"crc32c {b.crc32c:08x}  replicas {len(b.replicas)}")
        for r in b.replicas:
            lines.append(f"    replica {r.server_id}  {r.url}")
    return lines


@click.command()
@click.argument("path")
@js.json_option
@pass_app
def stat(app: AppContext, path: str) -> None:
    """Show a file's size, mtime, checksums and blocks with their replicas."""
    target = app.resolve(path)
    app.doing("stat", target)

    async def go(fs: FileSystem) -> StatResponse:
        if target == "/":
            return StatResponse(file=None, dir=DirEntry(name="", mtime=0.0, marker=True))
        return await fs.stat(target, with_blocks=True)

    st = app.run(go)
    if st.file is None and st.dir is None:
        raise _missing(target)
    if app.json:
        if st.file is not None:  # the file wins a shared name (Rule 2)
            js.emit({**js.file_doc(target, st.file, blocks=True), "also_dir": st.dir is not None})
        else:
            assert st.dir is not None
            js.emit(js.dir_doc(target, st.dir))
        return
    for line in _stat_lines(target, st):
        click.echo(line)


COMMANDS: list[click.Command] = [init, status, ls, cd, pwd, mkdir, rmdir, put, get, touch,
                                 cp, mv, rm, stat]
