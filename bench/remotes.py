"""Pushing and pulling outputs, xp beside DVC 3.67.1 on the same data (`python bench/remotes.py --help`).

Two data sets, each tracked with `add` in its own DVC project per tool (`dvc init`, so both use
`.dvc/cache` and DVC's config): --files small files in one folder, and one file of --mib MiB. Each
tool pushes to its own empty folder remote, pushes again (nothing to move: the no-op), then a fresh
clone pulls, in --repeat rounds (each figure the best round). Figures, one line each with both tools and the
ratio (DVC's time / xp's):
- push of the small files; the no-op push of them; pull of them into a fresh clone;
- push of the big file; pull of it into a fresh clone.
With --s3, the same against moto's S3 server on loopback (needs the `test` extras and dvc-s3).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x.invalid",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@x.invalid",
       "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
XP = [sys.executable, "-m", "pyhelper"]
# With this set, Python recompiles every module of a source checkout on each start, which would time the compiler
# rather than the tool (DVC's venv has its byte code from pip); users normally have byte code cached.
ENV.pop("PYTHONDONTWRITEBYTECODE", None)


def _dvc() -> str:
    out = subprocess.run(["bash", str(REPO / "scripts" / "dvc-venv.sh")], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def run(argv: list[str], cwd: Path) -> None:
    result = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"`{' '.join(argv)}` failed ({result.returncode}): {result.stderr.strip()[-600:]}")


def timed(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    run(argv, cwd)
    return time.perf_counter() - started


def project(folder: Path, dvc: str, tool: list[str], make_data, remote_args: list[list[str]]) -> Path:
    """A DVC project whose data `make_data(folder)` wrote, tracked with `tool add`, its remote configured."""
    folder.mkdir(parents=True)
    run(["git", "init", "-q"], folder)
    run([dvc, "init", "-q"], folder)
    target = make_data(folder)
    run([*tool, "add", target], folder)
    for args in remote_args:
        run([*tool, *args], folder)
    run(["git", "add", "-A"], folder)
    run(["git", "commit", "-qm", "data"], folder)
    return folder


def small_files(count: int):
    def make(folder: Path) -> str:
        data = folder / "data"
        data.mkdir()
        for i in range(count):
            (data / f"{i:05}.txt").write_bytes(os.urandom(512))
        return "data"
    return make


def big_file(mib: int):
    def make(folder: Path) -> str:
        with open(folder / "big.bin", "wb") as out:
            chunk = os.urandom(1 << 20)
            for _ in range(mib):
                out.write(chunk)
        return "big.bin"
    return make


def line(name: str, dvc_s: float, xp_s: float) -> str:
    return f"{name:<36} dvc {dvc_s:7.2f}s   xp {xp_s:7.2f}s   dvc/xp {dvc_s / xp_s:5.1f}x"


def figures(work: Path, dvc: str, label: str, make_data, remote_for, *, noop: bool, repeat: int) -> list[str]:
    """Each figure the best of `repeat` rounds (a fresh project and an empty remote each round), the tools'
    order alternating between rounds and the disk's dirty pages written out before each timed command, so
    neither tool pays for the other's writes."""
    out: list[str] = []
    times: dict[str, dict[str, float]] = {"dvc": {}, "xp": {}}
    tools = [("dvc", [dvc]), ("xp", XP)]
    for round_ in range(repeat):
        for name, tool in tools if round_ % 2 == 0 else tools[::-1]:
            tag = f"{label} r{round_}"
            remote_args, clone_args = remote_for(name, tag)
            repo = project(work / f"{tag}-{name}", dvc, tool, make_data, remote_args)
            spent = times[name]

            def best(key: str, argv: list[str], cwd: Path, spent: dict[str, float] = spent) -> None:
                os.sync()
                took = timed(argv, cwd)
                spent[key] = min(took, spent.get(key, took))

            best("push", [*tool, "push"], repo)
            if noop:
                best("noop", [*tool, "push"], repo)
            clone = work / f"{tag}-{name}-clone"
            run(["git", "clone", "-q", str(repo), str(clone)], work)
            for args in clone_args:
                run([*tool, *args], clone)
            best("pull", [*tool, "pull"], clone)
            print(f"  {tag}: {name} done", file=sys.stderr, flush=True)
    out.append(line(f"push, {label}", times["dvc"]["push"], times["xp"]["push"]))
    if noop:
        out.append(line(f"no-op push, {label}", times["dvc"]["noop"], times["xp"]["noop"]))
    out.append(line(f"pull into a clone, {label}", times["dvc"]["pull"], times["xp"]["pull"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000, help="how many small files (default 1000)")
    parser.add_argument("--mib", type=int, default=1024, help="size of the big file in MiB (default 1024)")
    parser.add_argument("--s3", action="store_true", help="also against moto's S3 server on loopback")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds per figure, the best kept (default 3; a shared machine's noise is one-sided)")
    args = parser.parse_args()
    dvc = _dvc()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "pyhelper")], check=True)
    work = Path(tempfile.mkdtemp(prefix="xp-bench-remotes-"))
    try:
        def folder_remote(name: str, label: str) -> tuple[list[list[str]], list[list[str]]]:
            return [["remote", "add", "-d", "store", str(work / f"store-{label}-{name}")]], []

        rounds = args.repeat
        lines = figures(work, dvc, f"{args.files} small files", small_files(args.files), folder_remote, noop=True,
                        repeat=rounds)
        lines += figures(work, dvc, f"one {args.mib} MiB file", big_file(args.mib), folder_remote, noop=False,
                         repeat=rounds)
        if args.s3:
            url, server = _moto(work)
            try:
                def s3_remote(name: str, label: str) -> tuple[list[list[str]], list[list[str]]]:
                    keys = [["remote", "modify", "--local", "store", "access_key_id", "bench"],
                            ["remote", "modify", "--local", "store", "secret_access_key", "bench"]]
                    bucket = f"s3://bench/{name}-{label.replace(' ', '-')}"
                    return ([["remote", "add", "-d", "store", bucket],
                             ["remote", "modify", "store", "endpointurl", url], *keys], keys)

                lines += figures(work, dvc, f"{args.files} small files, S3", small_files(args.files), s3_remote,
                                 noop=True, repeat=rounds)
                lines += figures(work, dvc, f"one {args.mib} MiB file, S3", big_file(args.mib), s3_remote,
                                 noop=False, repeat=rounds)
            finally:
                server.terminate()
        print("\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _moto(work: Path) -> tuple[str, subprocess.Popen[bytes]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    import boto3

    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench").create_bucket(Bucket="bench")
    return url, server


if __name__ == "__main__":
    main()
