"""Progress bars on long transfers: drawn when stderr is a terminal, never
when the output goes to a file or a script (the device agent here; the TUF
client's is in test_tuf_client.py)."""
import os

from agentlib import Device, Repo, make_keys
from conftest import binary, run_on_pty


def test_agent_update_progress_bar_on_a_terminal_only(tmp_path, http_server):
    keys = make_keys(tmp_path / "keys")
    repo = Repo(tmp_path / "repo", keys)
    url = http_server(repo.dir)
    img = tmp_path / "fw.img"
    img.write_bytes(os.urandom(2 * 1024 * 1024))
    repo.add(img, "os/stable/fw-1.0.0.img", "1.0.0")
    dev = Device(tmp_path / "dev1", url, repo.root, slot_size=4 * 1024 * 1024)
    code, out = run_on_pty([binary("vouch-agent"), "--config", dev.config, "update"])
    assert code == 0, out
    assert "100%" in out and "MiB/s" in out, out
    dev2 = Device(tmp_path / "dev2", url, repo.root, slot_size=4 * 1024 * 1024)
    p = dev2.agent("update", check=0)
    assert "MiB/s" not in p.stderr + p.stdout
