"""libcurl and p11-kit are loaded with dlopen() on first use, not linked
(docs/design.md, Dependencies): commands that never fetch and never touch a
token do not map them (nor the ~25 libraries libcurl pulls in), and when
they cannot be loaded the commands that need them fail closed, exit code 3,
with a message naming the library and its Debian package, while the others
keep working.

What the dynamic loader really loads is read from its own trace
(LD_DEBUG=libs); a library that cannot be loaded is simulated with
LD_LIBRARY_PATH pointing at a directory whose libcurl.so.4 or
libp11-kit.so.0 is not the real one."""
import re
import shutil

import pytest
from conftest import binary, run
from tufrepo import Client, Misbehaviour, Repo, make_handler

NETWORK_LIBS = ("libcurl.so", "libp11-kit.so", "libffi.so", "libgnutls.so", "libssh2.so",
                "libldap", "libgssapi_krb5.so", "libnghttp2.so", "librtmp.so")


def loaded(stderr):
    """Basenames of the shared objects whose constructors ran (LD_DEBUG=libs)."""
    return {p.rsplit("/", 1)[-1] for p in re.findall(r"calling init: (\S+)", stderr)}


def network_libs(libs):
    return sorted(lib for lib in libs if lib.startswith(NETWORK_LIBS))


def real_library(name_prefix):
    """Path of a real shared library vouch links (from ldd)."""
    p = run(["ldd", binary("vouch")], check=0)
    for line in p.stdout.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m and m.group(1).startswith(name_prefix):
            return m.group(2)
    pytest.fail(f"vouch does not link {name_prefix}")


@pytest.fixture
def not_a_library(tmp_path):
    """A directory holding libcurl.so.4 and libp11-kit.so.0 that are not ELF."""
    d = tmp_path / "fake-libs"
    d.mkdir()
    for name in ("libcurl.so.4", "libp11-kit.so.0"):
        (d / name).write_text("not a shared library\n")
    return d


@pytest.fixture
def wrong_library(tmp_path):
    """A directory holding libcurl.so.4 and libp11-kit.so.0 that are real
    shared libraries without the functions vouch calls (copies of jansson)."""
    d = tmp_path / "wrong-libs"
    d.mkdir()
    src = real_library("libjansson.so")
    for name in ("libcurl.so.4", "libp11-kit.so.0"):
        shutil.copy(src, d / name)
    return d


@pytest.fixture
def client(tmp_path, http_server):
    repo = Repo(tmp_path / "repo")
    repo.add_target("targets", "a.bin", b"target a\n")
    repo.publish()
    state = Misbehaviour()
    url = http_server(repo.path, handler=make_handler(state))
    c = Client(binary("vouch"), run, repo, url, state, tmp_path)
    c.init()
    return c


def test_sign_and_verify_load_no_network_or_pkcs11_library(vouch, tmp_path):
    f = tmp_path / "image.bin"
    f.write_bytes(b"x" * 100000)
    trace = {"LD_DEBUG": "libs"}
    libs = set()
    libs |= loaded(vouch("keygen", "--out", tmp_path / "k.key", "--no-passphrase", check=0,
                         env=trace).stderr)
    libs |= loaded(vouch("sign", "--key", tmp_path / "k.key", f, check=0, env=trace).stderr)
    libs |= loaded(vouch("verify", "--key", tmp_path / "k.key.pub", f, check=0,
                         env=trace).stderr)
    assert "libcrypto.so.3" in libs  # the trace is read right
    assert network_libs(libs) == []


def test_sign_and_verify_work_when_libcurl_and_p11kit_cannot_load(vouch, tmp_path,
                                                                  not_a_library):
    f = tmp_path / "image.bin"
    f.write_bytes(b"release\n")
    env = {"LD_LIBRARY_PATH": str(not_a_library)}
    vouch("keygen", "--out", tmp_path / "k.key", "--no-passphrase", check=0, env=env)
    vouch("sign", "--key", tmp_path / "k.key", f, check=0, env=env)
    p = vouch("verify", "--key", tmp_path / "k.key.pub", f, check=0, env=env)
    assert "OK" in p.stdout


def test_client_init_loads_no_libcurl_refresh_does(client):
    # init (in the fixture) reads a local root only; run it again traced.
    p = client.run("init", "--metadata-dir", client.mdir, client.repo.root_file(1),
                   env={"LD_DEBUG": "libs"})
    assert network_libs(loaded(p.stderr)) == []
    p = client.refresh(env={"LD_DEBUG": "libs"})
    libs = loaded(p.stderr)
    assert "libcurl.so.4" in libs
    assert client.state.requests  # it did fetch


@pytest.mark.parametrize("fixture,why", [("not_a_library", "cannot be loaded"),
                                         ("wrong_library", "lacks curl_")])
def test_client_fails_closed_without_libcurl(client, request, fixture, why):
    libdir = request.getfixturevalue(fixture)
    before = sorted(p.name for p in client.mdir.iterdir())
    p = client.refresh(check=3, env={"LD_LIBRARY_PATH": str(libdir)})
    assert "libcurl.so.4" in p.stderr and "libcurl4" in p.stderr, p.stderr
    assert why in p.stderr, p.stderr
    assert client.metadata_url in p.stderr
    # Nothing fetched, nothing trusted.
    assert client.state.requests == []
    assert sorted(p.name for p in client.mdir.iterdir()) == before
    # The same client works once libcurl loads again.
    client.refresh()
    assert (client.mdir / "timestamp.json").exists()


@pytest.mark.parametrize("fixture,why", [("not_a_library", "cannot be loaded"),
                                         ("wrong_library", "lacks p11_kit_")])
def test_pkcs11_key_fails_closed_without_p11kit(vouch, tmp_path, request, fixture, why):
    libdir = request.getfixturevalue(fixture)
    f = tmp_path / "image.bin"
    f.write_bytes(b"release\n")
    p = vouch("sign", "--key", "pkcs11:token=t;object=k?pin-value=pin-z86420", f, check=3,
              env={"LD_LIBRARY_PATH": str(libdir)})
    assert "libp11-kit.so.0" in p.stderr and "libp11-kit0" in p.stderr, p.stderr
    assert why in p.stderr, p.stderr
    assert "pin-z86420" not in p.stderr
    assert not (tmp_path / "image.bin.sig").exists()
