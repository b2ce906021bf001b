"""A held-out fault sweep (issue 17): kill -9 xp part way through commands the issue's own cases do not
cover, at several moments each, then check that nothing is lost or half written. Run:

    .venv/bin/python scripts/fault_sweep.py [--delays 0.05,0.2,0.5,1.0]

Scenarios (on the demo project with a 40 MB output, a folder remote and a bare git origin):
- `xp pull` into a fresh clone; `xp push -j 2`; `xp exp pull origin` (git + outputs);
- `xp exp apply` of an experiment whose output is 40 MB;
- `xp add` of a folder of 300 files; `xp exp remove -A` of 30 experiments; `xp remote add`.
After each kill: `git fsck` is clean, `xp exp show` lists no broken row, every cache object (and every
remote object) hashes to its name, a workspace output is whole (its md5 is one a lock or .dvc file
names, or it is absent), the config files parse — and running the same command again succeeds.
Prints one line per scenario and delay; exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "GIT_AUTHOR_NAME": "f", "GIT_AUTHOR_EMAIL": "f@x.invalid", "GIT_COMMITTER_NAME": "f",
       "GIT_COMMITTER_EMAIL": "f@x.invalid"}
XP = [sys.executable, "-m", "pyhelper"]


def run(argv: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"`{' '.join(argv)}` failed in {cwd}: {result.stderr.strip()[-500:]}")
    return result


def killed(argv: list[str], cwd: Path, delay: float) -> bool:
    """Starts the command and SIGKILLs it after `delay` s; True if it was still running then."""
    proc = subprocess.Popen(argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    time.sleep(delay)
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return alive


def objects_whole(folder: Path) -> list[str]:
    """Objects under a cache or remote folder whose bytes do not hash to their names."""
    bad = []
    for path in (folder / "files" / "md5").glob("*/*"):
        if path.name.startswith(".") or not path.is_file():
            continue
        if hashlib.md5(path.read_bytes()).hexdigest() != (path.parent.name + path.name).removesuffix(".dir"):
            bad.append(str(path))
    return bad


def check(repo: Path, remote_store: Path | None, known: set[str]) -> list[str]:
    problems = []
    fsck = run(["git", "fsck", "--connectivity-only", "--no-dangling"], repo, check=False)
    if fsck.returncode != 0:
        problems.append(f"git fsck: {fsck.stderr.strip()[:200]}")
    show = run([*XP, "exp", "show", "--xp-json"], repo, check=False)
    if show.returncode != 0:
        problems.append(f"exp show: {show.stderr.strip()[:200]}")
    else:
        broken = [r["name"] for r in json.loads(show.stdout) if r.get("status") == "broken"]
        if broken:
            problems.append(f"broken rows: {broken}")
    problems += [f"cache object corrupt: {p}" for p in objects_whole(repo / ".xp" / "cache")]
    if remote_store is not None:
        problems += [f"remote object corrupt: {p}" for p in objects_whole(remote_store)]
    model = repo / "model" / "big.bin"
    if model.exists() and hashlib.md5(model.read_bytes()).hexdigest() not in known:
        problems.append("model/big.bin is neither the old nor the new output (half written)")
    status = run([*XP, "remote", "list", "--json"], repo, check=False)
    if status.returncode != 0:
        problems.append(f"remote config: {status.stderr.strip()[:200]}")
    return problems


def project(work: Path) -> tuple[Path, Path, set[str]]:
    """The demo with a 40 MB output (its md5 set known), pushed to its origin and its remote storage."""
    repo = work / "a"
    run([*XP, "demo", str(repo)], work)
    (repo / "src" / "big.py").write_text(
        "import hashlib, os, sys\nlr = open('params.yaml').read()\nos.makedirs('model', exist_ok=True)\n"
        "seed = hashlib.md5(lr.encode()).digest()\nwith open('model/big.bin', 'wb') as out:\n"
        "    for i in range(40):\n        out.write(hashlib.sha256(seed + bytes([i])).digest() * 32768)\n")
    dvc_yaml = repo / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace(
        "stages:\n", "stages:\n  big:\n    cmd: python src/big.py\n    deps: [src/big.py, params.yaml]\n"
        "    outs: [model/big.bin]\n", 1))
    run([*XP, "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "big output"], repo)
    run(["git", "push", "-q", "origin", "HEAD:main"], repo)
    known = set()
    for i, lr in enumerate(("0.11", "0.12", "0.13")):
        run([*XP, "exp", "run", "-S", f"train.lr={lr}", "-n", f"e{i}"], repo)
        run([*XP, "exp", "apply", f"e{i}"], repo)
        known.add(hashlib.md5((repo / "model" / "big.bin").read_bytes()).hexdigest())
    run(["git", "checkout", "-q", "--", "."], repo)
    run([*XP, "pull"], repo)
    known.add(hashlib.md5((repo / "model" / "big.bin").read_bytes()).hexdigest())
    run([*XP, "push"], repo)
    run([*XP, "exp", "push", "origin"], repo)
    return repo, repo / "storage", known


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delays", default="0.05,0.2,0.5,1.0", help="seconds before the kill, comma-separated")
    args = parser.parse_args()
    delays = [float(d) for d in args.delays.split(",")]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="xp-faults-") as folder:
        work = Path(folder)
        repo, store, known = project(work)
        none = lambda: None  # noqa: E731
        scenarios: list[tuple[str, Path, list[str], object, list[float]]] = [
            ("push -j 2", repo, [*XP, "push", "-j", "2"], none, delays),
            ("exp apply (40 MB output)", repo, [*XP, "exp", "apply", "--force", "e1"], none, delays),
            ("remote add", repo, [*XP, "remote", "add", "-f", "spare", str(work / "spare")], none, delays),
            ("add a folder of 300 files", repo, [*XP, "add", "many"], lambda: _many(repo), delays),
        ]
        for delay in delays:  # A fresh clone each: what it lacks is what the command brings.
            for verb in (["pull"], ["exp", "pull", "origin"]):
                clone = work / f"clone-{'-'.join(verb)}-{delay}"
                run(["git", "clone", "-q", str(repo / "origin.git"), str(clone)], work)
                scenarios.append((f"{' '.join(verb)} on a fresh clone", clone, [*XP, *verb], none, [delay]))
        for name, where, argv, prepare, moments in scenarios:
            for delay in moments:
                prepare()  # type: ignore[operator]
                was_running = killed(argv, where, delay)
                problems = check(where, store, known)
                again = run(argv, where, check=False)
                if again.returncode != 0:
                    problems.append(f"running it again failed: {again.stderr.strip()[-200:]}")
                problems += check(where, store, known)
                failed += bool(problems)
                state = "killed" if was_running else "had ended"
                print(f"{name:<40} kill at {delay:4.2f}s ({state:9}): " + ("ok" if not problems else
                                                                           "; ".join(problems)), flush=True)
        removal = [*XP, "exp", "remove", "-A"]
        for i in range(30):
            run([*XP, "exp", "save", "-n", f"s{i}"], repo)
        was_running = killed(removal, repo, 0.2)
        problems = check(repo, store, known)
        print(f"{'exp remove -A of 33':<40} kill at 0.20s ({'killed' if was_running else 'had ended':9}): "
              + ("ok" if not problems else "; ".join(problems)))
        failed += bool(problems)
    print(f"{failed} scenario run(s) with problems")
    return 1 if failed else 0


def _many(repo: Path) -> None:
    many = repo / "many"
    many.mkdir(exist_ok=True)
    for i in range(300):
        (many / f"{i:03}.bin").write_bytes(os.urandom(16 * 1024))


if __name__ == "__main__":
    sys.exit(main())
