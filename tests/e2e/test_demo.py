"""`make demo` must not rot: run its fleet half (scripts/demo-fleet) against
this build and check that the story still happens — every expected
rejection with its reason, the rollback, the final fleet state — and that
the demo cleans up after itself (temporary directory, web server)."""
import re
import socket

import pytest

from conftest import BUILD, ROOT, run

SCRIPT = ROOT / "scripts" / "demo-fleet"


def demo(tmp_path, build=BUILD, check=None):
    work = tmp_path / "tmp"
    work.mkdir(exist_ok=True)
    p = run([SCRIPT], check=check, env={"BUILD": str(build), "TMPDIR": str(work), "KEEP": "0"},
            timeout=240)
    return p, work


def encryption_available():
    p = run([BUILD / "src" / "cli" / "vouch", "repo", "add", "--help"])
    return "--encrypt-to" in p.stdout + p.stderr


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    p, work = demo(tmp)
    assert p.returncode == 0, f"demo-fleet failed (exit {p.returncode})\n{p.stdout}\n{p.stderr}"
    return p.stdout, work


def test_demo_cleans_up(story):
    out, work = story
    assert list(work.iterdir()) == []  # the temporary directory is gone
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", out).group(1))
    with pytest.raises(OSError):  # and the web server stopped
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_demo_repository_chapter(story):
    out, _ = story
    assert "root v1 has 1 of 2 signatures" in out
    assert "root v1 signed (2 of 2)" in out
    # The app key cannot sign an os image ...
    assert re.search(r"not authorised for tier os.*\n   -> rejected \(exit 1\)", out)
    # ... the timestamp key was rotated (root v2) and a client follows it ...
    assert "root v2 signed by the old and the new root keys" in out
    assert "the client now trusts root v2" in out
    # ... and a forged app-tier listing of an os image is refused.
    assert "forged: app v" in out
    assert re.search(r"os/stable/fw-9\.9\.9\.img: no trusted role lists this target\n"
                     r"   -> rejected \(exit 1\)", out)
    # The stolen app key is rotated out of its tier: it can sign nothing now.
    assert re.search(r"not authorised for tier app.*\n   -> rejected \(exit 1\)", out)


def test_demo_fleet_chapter(story):
    out, _ = story
    for d in ("dev-1", "dev-2", "dev-3"):
        for v in ("1.0.0", "2.0.0", "3.2.0"):
            assert f"{d} now runs os {v}" in out
    assert out.count("committed 1.0.0 (os/stable/fw-1.0.0.img); anti-rollback floor is now 1") == 3
    assert out.count("rolled back from 3.0.0: health check failed (exit 1)") == 3
    assert "marked bad on this device: health check failed" in out
    assert re.search(r"refuse os/stable/fw-3\.1\.0\.img \(3\.1\.0\): security_version 1 is below "
                     r"this device's floor 2 \(anti-rollback\)(\n.*)*?\n   -> rejected \(exit 1\)",
                     out)
    assert re.search(r"install of 3\.2\.0 failed: .*sha256 mismatch\n   -> rejected \(exit 1\)",
                     out)
    assert "dev-3's boot environment is byte for byte what it was" in out
    assert out.count("device dev-") == 3  # every device's status at the end
    assert "demo-fleet: every step behaved as it must" in out
    assert "Traceback" not in out  # the web server had nothing to complain about


def test_demo_encryption_chapter(story):
    out, _ = story
    if not encryption_available():
        assert "chapter left out" in out
        pytest.skip("vouch repo add --encrypt-to is not in this build")
    assert "dev-1 now runs os 4.0.0" in out and "dev-2 now runs os 4.0.0" in out
    assert re.search(r"install of 4\.0\.0 failed: not a recipient.*\n   -> rejected \(exit 1\)",
                     out)
    assert "dev-3's slots and boot environment are untouched" in out
    assert "fleet: dev-1=4.0.0 dev-2=4.0.0 dev-3=3.2.0" in out


def test_demo_fails_when_a_rejection_does_not_happen(tmp_path):
    """The demo is a smoke test: an agent that reports success where it
    should refuse makes the demo fail."""
    fake = tmp_path / "build"
    (fake / "src" / "cli").mkdir(parents=True)
    (fake / "src" / "agent").mkdir(parents=True)
    (fake / "src" / "cli" / "vouch").symlink_to(BUILD / "src" / "cli" / "vouch")
    agent = fake / "src" / "agent" / "vouch-agent"
    agent.write_text(f"#!/bin/sh\n{BUILD / 'src' / 'agent' / 'vouch-agent'} \"$@\"\n"
                     "rc=$?\n[ $rc -eq 1 ] && exit 0\nexit $rc\n")
    agent.chmod(0o755)
    p, work = demo(tmp_path, build=fake)
    assert p.returncode != 0, p.stdout
    assert "expected a rejection, got success" in p.stderr
    assert list(work.iterdir()) == []
