"""Helpers for the release tests: run scripts/release, clone the repository, commit in it.

The builder reads the committed tree, so tests that need a different tree (a bumped
version, a stray file) make a throwaway clone and commit there, never in the checkout.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import subprocess
import sys
import threading
import time
from typing import Any, Dict, Iterator, List, Optional

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "scripts", "release")


def git(repo: str, *args: str, env: Optional[Dict[str, str]] = None) -> str:
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True,
                          text=True, env=full_env).stdout


def run_release(repo: str, out: str, check: bool = True) -> subprocess.CompletedProcess:
    """scripts/release --repo REPO --out OUT, with the test's interpreter as python3."""
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(["bash", RELEASE, "--repo", repo, "--out", out],
                          capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def clone(dest: str) -> str:
    """A clone of this repository's HEAD (the committed tree only)."""
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", ROOT, dest], check=True,
                   capture_output=True)
    return dest


def commit_all(repo: str, message: str, committer_epoch: int) -> str:
    """Commit every change in `repo` with a fixed identity and committer date; the new sha."""
    stamp = "%d +0000" % committer_epoch
    env = {"GIT_AUTHOR_NAME": "Release Test", "GIT_AUTHOR_EMAIL": "release@test.invalid",
           "GIT_COMMITTER_NAME": "Release Test", "GIT_COMMITTER_EMAIL": "release@test.invalid",
           "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "--no-verify", "-m", message, env=env)
    return git(repo, "rev-parse", "HEAD").strip()


def head_epoch(repo: str) -> int:
    return int(git(repo, "show", "-s", "--format=%ct", "HEAD").strip())


def bump_version(repo: str, version: str) -> None:
    """Rewrite the one `version:` line of Stash2Plex.yml."""
    path = os.path.join(repo, "Stash2Plex.yml")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    text, count = re.subn(r"(?m)^version:.*$", "version: " + version, text)
    assert count == 1
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def committed_files(repo: str) -> List[str]:
    return git(repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()


# ---- serving a published folder, as GitHub Pages would ---------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass


@contextlib.contextmanager
def serve_directory(path: str) -> Iterator[str]:
    """Serve `path` over HTTP on 127.0.0.1 in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="dist-server")
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ---- GraphQL as Stash's web UI sends it -------------------------------------------

def gql(stash: Any, query: str, **variables: Any) -> Dict[str, Any]:
    """POST one GraphQL document to the Stash emulator; fail on any error."""
    resp = requests.post(stash.graphql_url, json={"query": query, "variables": variables},
                         cookies={"session": stash.session_cookie}, timeout=30)
    doc = resp.json()
    assert resp.status_code == 200 and not doc.get("errors"), doc
    return doc["data"]


def wait_job(stash: Any, job_id: str, timeout: float = 60.0) -> Dict[str, Any]:
    """Poll findJob until the job is over, as the UI's job queue shows it."""
    deadline = time.monotonic() + timeout
    while True:
        job = gql(stash, "query($id: ID!) { findJob(input: {id: $id}) { id status description } }",
                  id=job_id)["findJob"]
        if job and job["status"] in ("FINISHED", "CANCELLED", "FAILED"):
            return job
        assert time.monotonic() < deadline, "job %s still %s" % (job_id, job and job["status"])
        time.sleep(0.05)
