"""The HTML status report of playbooks/status.yml, rendered in headless Chromium.

A lab of this module's own (two ONTAP clusters), one set protected with
playbooks/setup.yml, the lab clock moved past the RPO, only some items updated and
one broken off; then playbooks/status.yml writes the report, Chromium renders it
(``--dump-dom``) and the page is read back: every item is there, exactly the items
over the RPO are flagged, the chart has one bar per item and the RPO line, and the
page asks for nothing over the network (Chromium's NetLog lists the requests the
page made; a control page that does load something shows the check sees them).

Set REPORT_SCREENSHOT=/some/file.png to also keep a screenshot of the page.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import typing as t

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# the ONTAP topology of the lab tests: pytest puts tests/unit/lab on sys.path only when it collects a module there
LAB_TESTS = os.path.join(REPO, "tests", "unit", "lab")
if LAB_TESTS not in sys.path:
    sys.path.append(LAB_TESTS)

from ontap_helpers import topology  # noqa: E402  pylint: disable=wrong-import-position

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
RPO = 900

LAB_TOPOLOGY = topology(volumes=6, data_blocks=16,
                        lab={"block_size": "64KiB", "bandwidth": "2GiB", "per_transfer_rate": "256MiB"})
PROTECTED = ["vol1", "vol2", "vol3", "vol4", "vol5"]
SETUP_SET = {"name": "report", "vendor": "ontap", "source": "ontap-a", "target": "ontap-b",
             "source_container": "svm_a", "target_container": "svm_b", "volumes": PROTECTED,
             "target_name_suffix": "_dr"}
# The status run reads the same set under a name that needs escaping, plus vol6, which
# was never protected: a row without a lag (missing, unhealthy) that is not over the RPO.
STATUS_SET = dict(SETUP_SET, name='fin & ops <dr> "1"', volumes=PROTECTED + ["vol6"])
UPDATED = ["svm_b:vol1_dr", "svm_b:vol2_dr"]      # updated after the clock moved: within the RPO
LATE = ["svm_b:vol3_dr", "svm_b:vol4_dr"]         # not updated: over the RPO
BROKEN = ["svm_b:vol5_dr"]                        # broken off: not replicating, not over the RPO
MISSING = ["svm_b:vol6_dr"]                       # never protected: no lag, unhealthy, over the RPO
ITEMS = UPDATED + LATE + BROKEN + MISSING
OVER = LATE + MISSING


# --- running things ---------------------------------------------------------------------

def playbook(lab, name: str, workdir: str, extra: dict[str, t.Any]) -> str:
    """Run playbooks/<name>.yml as a process against the lab; return its output."""
    endpoints = os.path.join(workdir, "endpoints.json")
    with open(endpoints, "w", encoding="utf-8") as handle:
        json.dump(lab.endpoints, handle)
    extra_file = os.path.join(workdir, f"{name}-vars.json")
    with open(extra_file, "w", encoding="utf-8") as handle:
        json.dump(dict({"backend_replication_poll_interval": 0.1}, **extra), handle)
    env = dict(os.environ, LAB_ENDPOINTS=endpoints, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".venv", "collections"), ANSIBLE_NOCOLOR="1")
    env.pop("LAB_DIR", None)
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
               "-i", os.path.join(REPO, "playbooks", "inventory", "lab.yml"),
               os.path.join(REPO, "playbooks", f"{name}.yml"), "-e", f"@{extra_file}"]
    done = subprocess.run(command, env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:]
    return done.stdout


class ConnectionRecorder:
    """Chromium's proxy: a socket on loopback that takes every request and answers 403.

    Nothing the browser asks for leaves the machine, not even its own service pings;
    which requests the page made is read from the NetLog (``page_requests``).
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.requests.append(conn.recv(2048) or b"<connected, sent nothing>")
                except OSError:
                    self.requests.append(b"<connected>")
                try:
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.sock.close()


def chromium(browser: str, page: str, proxy_port: int, *args: str) -> str:
    """Run headless Chromium on a file with every request sent to the recording proxy; return stdout."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}",
                   f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>",
                   *args, "file://" + page]
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


# --- reading the DOM Chromium dumped --------------------------------------------------------

class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> t.Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [n for n in self.iter() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def by_id(self, ident: str) -> Node:
        found = [n for n in self.iter() if n.attrs.get("id") == ident]
        assert len(found) == 1, f"#{ident}: {len(found)} elements"
        return found[0]


class DomBuilder(html.parser.HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.current.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        self.current.children.append(data)


def parse(markup: str) -> Node:
    builder = DomBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root


# --- the test ---------------------------------------------------------------------------

LEAKY_PAGE = """<!DOCTYPE html><html><head><style>body { background: url(http://leak-css.invalid/bg.png) }</style>
</head><body><img src="http://leak-img.invalid/x.png" alt=""><p>control page</p></body></html>"""


@pytest.fixture(scope="module")
def browser() -> str:
    """Debian's Chromium, installed by tools/ensure_chromium.sh when it is missing."""
    if not os.access(CHROMIUM, os.X_OK):
        done = subprocess.run(["bash", os.path.join(REPO, "tools", "ensure_chromium.sh")], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=900, check=False)
        if done.returncode != 0:
            pytest.fail(f"no Chromium for the report test: {done.stdout[-2000:]}")
    return CHROMIUM


def snapmirror(lab, destination: str, **args: t.Any) -> dict[str, t.Any]:
    """storage.replication.snapmirror on one item of the set, run in this process."""
    from conftest import run_module  # pylint: disable=import-outside-toplevel

    source = "svm_a:" + destination.split(":", 1)[1].removesuffix("_dr")
    result = run_module("snapmirror", dict(lab.connection("ontap-b"), source_cluster=lab.connection("ontap-a"),
                                           source_path=source, destination_path=destination, poll_interval=0.05,
                                           wait_timeout=60, **args))
    assert not result["failed"], result
    return result


def render(browser: str, page: str, workdir: str, *args: str) -> tuple[str, list[str]]:
    """Chromium's DOM of a page and the URLs the page asked the network for (from the NetLog)."""
    netlog = os.path.join(workdir, f"netlog-{len(os.listdir(workdir))}.json")
    recorder = ConnectionRecorder()  # the proxy: nothing leaves the machine, not even Chromium's own pings
    try:
        dom = chromium(browser, page, recorder.port, f"--log-net-log={netlog}", *args)
    finally:
        recorder.close()
    return dom, page_requests(netlog)


def page_requests(netlog: str) -> list[str]:
    """URLs a page loaded from anything but itself: the NetLog's request jobs started for the file:// page.

    Chromium's own service requests (network time, component updates, accounts) are
    started by the browser, with no page origin in their network isolation key.
    """
    with open(netlog, encoding="utf-8") as handle:
        text = handle.read().rstrip().rstrip(",")
    try:
        log = json.loads(text)
    except ValueError:  # a NetLog cut short lacks its closing brackets
        log = json.loads(text + "]}")
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        url = str(params.get("url", ""))
        if names.get(event.get("type")) != "URL_REQUEST_START_JOB" or not url:
            continue
        if url.startswith(("file:", "data:", "about:", "blob:")):
            continue
        initiator = str(params.get("initiator", ""))
        if "file://" in str(params.get("network_isolation_key", "")) or initiator == "null" \
                or initiator.startswith("file:"):
            urls.append(url)
    return urls


@pytest.fixture(scope="module")
def report(lab, browser, tmp_path_factory) -> dict[str, t.Any]:
    """Protect the set, let items fall behind the RPO, break one, run status.yml, render the page."""
    workdir = str(tmp_path_factory.mktemp("report"))
    playbook(lab, "setup", workdir, {"replication_sets": [SETUP_SET]})
    lab.advance_clock(2 * RPO + 600)
    for destination in UPDATED:
        lab.write("ontap-a", "svm_a:" + destination.split(":", 1)[1].removesuffix("_dr"), 2)
        assert snapmirror(lab, destination, update=True)["relationship"]["lag_seconds"] < RPO
    assert snapmirror(lab, BROKEN[0], relationship_state="broken_off")["relationship"]["state"] == "broken_off"
    os.makedirs(os.path.join(workdir, "out"))
    output = playbook(lab, "status", workdir, {"replication_sets": [STATUS_SET], "replication_rpo": RPO,
                                               "status_report_path": "out/status report.html"})
    path = os.path.join(workdir, "out", "status report.html")  # relative to where ansible-playbook ran
    with open(path, encoding="utf-8") as handle:
        source_html = handle.read()
    browser_dir = str(tmp_path_factory.mktemp("browser"))
    dom_html, requests = render(browser, path, browser_dir, "--dump-dom", "--virtual-time-budget=2000")
    screenshot = os.environ.get("REPORT_SCREENSHOT")
    if screenshot:
        render(browser, path, browser_dir, f"--screenshot={screenshot}", "--window-size=1280,1400")
    control = os.path.join(browser_dir, "leaky.html")
    with open(control, "w", encoding="utf-8") as handle:
        handle.write(LEAKY_PAGE)
    _dom, control_requests = render(browser, control, browser_dir, "--dump-dom", "--virtual-time-budget=2000")
    return {"output": output, "source": source_html, "dom": parse(dom_html), "requests": requests,
            "control_requests": control_requests}


def lag_cell(row: Node) -> str:
    return row.find_all("td", cls="num")[1].text()


def test_every_item_is_in_the_table_and_exactly_the_ones_over_the_rpo_are_flagged(report):
    rows = report["dom"].by_id("items").find_all("tr", cls="item")
    by_item = {r.attrs["data-item"]: r for r in rows}
    assert sorted(by_item) == sorted(ITEMS) and len(rows) == len(ITEMS)
    for row in rows:
        assert row.attrs["data-set"] == STATUS_SET["name"]
        assert STATUS_SET["name"] in row.text() and "ontap-a → ontap-b" in row.text() and "ontap" in row.text()
    assert sorted(r.attrs["data-item"] for r in rows if "OVER RPO" in r.text()) == sorted(OVER)
    assert sorted(r.attrs["data-item"] for r in rows if "over-rpo" in r.classes) == sorted(OVER)
    for item in UPDATED:
        row = by_item[item]
        assert not {"flagged", "over-rpo", "unhealthy", "nolag"} & row.classes, row.classes
        assert "snapmirrored" in row.text() and int(lag_cell(row)) < RPO
    for item in LATE:
        assert "flagged" in by_item[item].classes and int(lag_cell(by_item[item])) > RPO
    broken = by_item[BROKEN[0]]
    assert "nolag" in broken.classes and "broken_off" in broken.text() and "over-rpo" not in broken.classes
    assert "NOT REPLICATING" in broken.text() or "NO LAG" in broken.text()
    missing = by_item[MISSING[0]]
    assert {"unhealthy", "nolag", "flagged", "over-rpo"} <= missing.classes
    assert "UNHEALTHY" in missing.text() and "NO LAG" in missing.text() and "missing" in missing.text()
    assert lag_cell(missing) == "—"


def test_the_header_gives_the_time_the_rpo_and_the_counts(report):
    dom = report["dom"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", dom.by_id("report-time").text())
    assert dom.by_id("report-rpo").attrs["data-seconds"] == str(RPO) and "15m" in dom.by_id("report-rpo").text()
    assert "RPO 15m" in dom.find_all("title")[0].text()
    counts = {key: dom.by_id(f"summary-{key}").find_all("span", cls="value")[0].text()
              for key in ("items", "over", "unhealthy", "nolag")}
    unhealthy = sum(1 for r in dom.by_id("items").find_all("tr", cls="item") if r.attrs["data-healthy"] == "false")
    assert counts == {"items": str(len(ITEMS)), "over": str(len(OVER)), "unhealthy": str(unhealthy),
                      "nolag": str(len(BROKEN + MISSING))}
    assert unhealthy >= 1 and dom.by_id("verdict").text().startswith("ATTENTION")


def test_the_chart_has_one_bar_per_item_and_the_rpo_line(report):
    chart = report["dom"].by_id("lag-chart")
    assert chart.tag == "svg"
    bars = chart.find_all("rect", cls="bar")
    assert sorted(b.attrs["data-item"] for b in bars) == sorted(ITEMS) and len(bars) == len(ITEMS)
    line = chart.by_id("rpo-line")
    assert line.attrs["data-seconds"] == str(RPO) and line.attrs["y1"] == line.attrs["y2"]
    rpo_y = float(line.attrs["y1"])
    baseline = max(float(b.attrs["y"]) + float(b.attrs["height"]) for b in bars)
    for rect in bars:
        item, top = rect.attrs["data-item"], float(rect.attrs["y"])
        if item in LATE:
            assert "over" in rect.classes and "nolag" not in rect.classes and top < rpo_y, (item, top, rpo_y)
        elif item in UPDATED:
            assert not {"over", "nolag"} & rect.classes and rpo_y < top < baseline, (item, top, rpo_y)
        else:
            assert "nolag" in rect.classes and rect.attrs["data-lag"] == "", item
            assert ("over" in rect.classes) == (item in OVER), item
        assert item in rect.text() and (("OVER RPO" in rect.text()) == (item in OVER))


def test_values_are_escaped(report):
    assert "fin &amp; ops &lt;dr&gt; &#34;1&#34;" in report["source"]
    assert "<dr>" not in report["source"]
    assert report["dom"].by_id("items").find_all("tr", cls="item")[0].attrs["data-set"] == STATUS_SET["name"]


def test_the_page_loads_nothing_from_anywhere(report):
    assert len(report["control_requests"]) == 2, report["control_requests"]  # the check sees a page's loads
    assert report["requests"] == []
    dom = report["dom"]
    for node in dom.iter():
        for name, value in node.attrs.items():
            assert name not in ("src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data"), \
                (node.tag, name, value)
            assert "://" not in value and not value.strip().lower().startswith(("//", "javascript:")), (node.tag, name)
    assert not dom.find_all("script") and not dom.find_all("link") and not dom.find_all("img")
    style = "".join(n.text() for n in dom.find_all("style"))
    assert "@import" not in style and "@font-face" not in style
    assert all(ref.strip("'\" ").startswith("#") for ref in re.findall(r"url\(([^)]*)\)", style))
    csp = dom.find_all("meta", http_equiv="Content-Security-Policy")
    assert csp and "default-src 'none'" in csp[0].attrs["content"]


def test_the_report_task_reports_ok_not_changed(report):
    assert "TASK [Write the HTML status report]" in report["output"]
    recap = report["output"].rsplit("PLAY RECAP", 1)[1]
    assert "changed=0" in recap and "failed=0" in recap


# --- the template alone, for no, one and 500 items -------------------------------------------

def synthetic_rows(count: int) -> list[dict[str, t.Any]]:
    """Rows as status_rows makes them: every tenth never protected, every seventh broken off, lags up to 8h."""
    rows = []
    for n in range(count):
        state = "missing" if n % 10 == 9 else "broken_off" if n % 7 == 6 else "snapmirrored"
        lag = None if state == "missing" else (n * 977) % 30000
        rows.append({"set": f"set{n % 4}", "vendor": "ontap", "source": "ontap-a", "target": "ontap-b",
                     "item": f"svm_b:volume_with_a_long_name_{n:03d}_dr", "state": state, "healthy": state != "missing",
                     "lag_seconds": lag, "recovery_point": None, "last_transfer": None, "rpo_seconds": RPO,
                     "over_rpo": state == "missing" or (state == "snapmirrored" and lag is not None and lag > RPO),
                     "msg": "no replica on the target" if state == "missing" else ""})
    return rows


@pytest.fixture(scope="module")
def sized_pages(browser, tmp_path_factory) -> dict[int, dict[str, t.Any]]:
    """The template rendered by ansible.builtin.template for 0, 1 and 500 rows, then by Chromium."""
    workdir = str(tmp_path_factory.mktemp("sized"))
    sizes = (0, 1, 500)
    play = [{"name": "Render the status report template", "hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "Render", "ansible.builtin.template": {
            "src": os.path.join(REPO, "playbooks", "templates", "status_report.html.j2"),
            "dest": os.path.join(workdir, "{{ page.size }}.html"), "mode": "0644"},
        "vars": {"status_report_rows": "{{ page.rows }}", "status_report_rpo": RPO,
                 "status_report_time": "2026-01-01 00:00:00 UTC"},
        "loop": "{{ pages }}", "loop_control": {"loop_var": "page", "label": "{{ page.size }}"}}]}]
    with open(os.path.join(workdir, "render.yml"), "w", encoding="utf-8") as handle:
        json.dump(play, handle)
    with open(os.path.join(workdir, "vars.json"), "w", encoding="utf-8") as handle:
        json.dump({"pages": [{"size": size, "rows": synthetic_rows(size)} for size in sizes]}, handle)
    with open(os.path.join(workdir, "hosts.yml"), "w", encoding="utf-8") as handle:
        handle.write("all: {}\n")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false")
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                           os.path.join(workdir, "hosts.yml"), os.path.join(workdir, "render.yml"),
                           "-e", "@" + os.path.join(workdir, "vars.json")],
                          env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    pages = {}
    for size in sizes:
        path = os.path.join(workdir, f"{size}.html")
        dom_html, requests = render(browser, path, workdir, "--dump-dom")
        pages[size] = {"dom": parse(dom_html), "requests": requests, "bytes": os.path.getsize(path)}
    return pages


def test_no_items_render_an_empty_report(sized_pages):
    dom = sized_pages[0]["dom"]
    assert not dom.find_all("svg") and "No item to chart" in dom.text()
    assert "No replication set was read" in dom.by_id("items").text()
    assert dom.by_id("verdict").text().startswith("OK")


def test_one_item_renders_one_centred_bar_with_its_name(sized_pages):
    chart = sized_pages[1]["dom"].by_id("lag-chart")
    bars = chart.find_all("rect", cls="bar")
    labels = chart.find_all("text", cls="label")
    assert len(bars) == 1 and len(labels) == 1 and labels[0].text() == "svm_b:volume_with_a_long_name_000_dr"
    assert float(bars[0].attrs["width"]) <= 48
    assert abs(float(bars[0].attrs["x"]) + float(bars[0].attrs["width"]) / 2 - (72 + (960 - 72 - 56) / 2)) < 1


def test_500_items_render_500_bars_with_a_capped_number_of_labels(sized_pages):
    page = sized_pages[500]
    rows = synthetic_rows(500)
    chart = page["dom"].by_id("lag-chart")
    bars = chart.find_all("rect", cls="bar")
    assert len(bars) == 500 and len({b.attrs["data-item"] for b in bars}) == 500
    assert 10 <= len(chart.find_all("text", cls="label")) <= 30
    assert len(page["dom"].by_id("items").find_all("tr", cls="item")) == 500
    over = [b.attrs["data-item"] for b in bars if "over" in b.classes]
    assert over == [r["item"] for r in rows if r["over_rpo"]]
    flagged = [r.attrs["data-item"] for r in page["dom"].by_id("items").find_all("tr", cls="item")
               if "OVER RPO" in r.text()]
    assert flagged == over
    xs = [float(b.attrs["x"]) for b in bars]
    assert xs == sorted(xs) and xs[-1] + float(bars[-1].attrs["width"]) <= 960 - 56
    assert chart.by_id("rpo-line") and page["requests"] == [] and page["bytes"] < 1_000_000
