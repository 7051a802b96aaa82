"""The HTML reports in a real browser engine: Debian's Chromium, headless, driven by
playwright.  Each page — a feedback page with every kind of picture, one whose submission
did not run, the class overview, and the pages a real batch wrote — loads with no console
error, shows every image (decoded: naturalWidth > 0), and needs no network: the browser is
offline, any request other than the page itself fails the test, and the HTML names no
external address.

Chromium is not downloaded by playwright (`playwright install` cannot work here): it is
Debian's package, installed by `.ci/run` when missing.  Without it this test fails — it
never skips — saying how to install it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from autograder.batch import BatchOptions, grade_class
from autograder.checks import figures
from autograder.judge.result import AssignmentResult, Figure, StudentRecord, TestResult
from autograder.load import load_class
from autograder.report.html import feedback_html, overview_html
from autograder.worker.limits import SandboxLimits

CHROMIUM = "/usr/bin/chromium"
#: As the machine's own check runs Chromium (playwright adds --headless): no sandbox (root in
#: CI), no GPU, and none of the background connections a closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
INSTALL = "install it with `apt-get update && apt-get install -y chromium` (.ci/run does so when it is missing)"
EXTERNAL = re.compile(r"""(?:src|href|action|poster|srcset)\s*=\s*["']?(?!data:|#)[^"'\s>]""", re.IGNORECASE)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need playwright: pip install -e '.[test]'")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"the browser tests need Debian's Chromium at {CHROMIUM}: {INSTALL}")
    with sync_playwright() as p:
        engine = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield engine
        engine.close()


def open_offline(browser, path: Path) -> dict:
    """Load `path` with the network off; what the console said, which requests were made,
    and every image's natural width."""
    context = browser.new_context(offline=True, java_script_enabled=True)
    page = context.new_page()
    said, requests = [], []
    page.on("console", lambda m: said.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: said.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: said.append(f"request failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    widths = page.evaluate("[...document.images].map(i => i.complete ? i.naturalWidth : -1)")
    title = page.title()
    context.close()
    return {"said": said, "requests": requests, "widths": widths, "title": title}


def assert_whole_offline(browser, path: Path, images: int | None = None) -> dict:
    html = path.read_text()
    assert not EXTERNAL.findall(html), f"{path.name} names an address outside the page: {EXTERNAL.findall(html)[:3]}"
    seen = open_offline(browser, path)
    assert seen["said"] == [], f"{path.name}: {seen['said']}"
    assert all(url == path.as_uri() or url.startswith("data:") for url in seen["requests"]), seen["requests"]
    assert all(w > 0 for w in seen["widths"]), f"{path.name}: an image did not render: {seen['widths']}"
    if images is not None:
        assert len(seen["widths"]) == images
    return seen


def every_kind_of_failure() -> StudentRecord:
    """A record whose failures carry every kind of picture the checks attach."""
    def failed(name: str, message: str, *attached: Figure | None) -> TestResult:
        return TestResult(name, "property", 0.0, 2.0, "failed", message, "check", figures=[f for f in attached if f])

    mlp = AssignmentResult([
        TestResult("test_forward", "equality", 1.0, 1.0, "passed"),
        failed("test_spirals", "accuracy on two spirals: held-out accuracy 0.61 is below the required 0.95\nHint: bend it",
               figures.training_curve([0.7, 0.69, 0.69, 0.68], [0.7, 0.4, 0.2, 0.1]), figures.accuracy(0.61, 0.95, "held-out accuracy")),
        failed("test_mlp", "the output differs", figures.difference(torch.rand(4, 6), torch.rand(4, 6), "the output", 1e-5)),
    ])
    rnn = AssignmentResult([failed("test_vanishing", "(rnn) the ratio should be below 1e-8",
                                   figures.gradient_norms(torch.logspace(-3, 0, 50), "rnn"),
                                   figures.gradient_norms(torch.ones(50), "lstm"))])
    attention = AssignmentResult([failed("test_sdpa", "the output[1] differs",
                                         figures.difference(torch.rand(2, 5, 5), torch.rand(2, 5, 5), "the output[1]", 1e-5),
                                         figures.heatmap("your attention weights", torch.softmax(torch.rand(5, 5), -1)))])
    gnn = AssignmentResult([failed("test_gcn", "the node output differs",
                                   figures.difference(torch.rand(34, 2), torch.rand(34, 2), "the node output", 1e-5),
                                   figures.per_item("error per node", torch.rand(34)))])
    return StudentRecord("ann lee", {"mlp": mlp, "attention": attention, "rnn": rnn, "gnn": gnn},
                         notes=["a note with <b>markup</b> & an ampersand"])


def did_not_import() -> StudentRecord:
    message = "Your code raised FileNotFoundError when importing it: '/home/carol/spirals.pt' (mlp.py, line 6)"
    tests = [TestResult(f"test_{i}", "p", 0.0, 1.0, "failed", message, "exception") for i in range(15)]
    return StudentRecord("carol", {"mlp": AssignmentResult(tests), "rnn": AssignmentResult(tests[:2], submitted=False)})


def test_a_feedback_page_with_every_kind_of_picture_renders_offline(browser, tmp_path):
    record = every_kind_of_failure()
    path = tmp_path / "ann.html"
    path.write_text(feedback_html(record, ["mlp", "attention", "rnn", "gnn"]))
    seen = assert_whole_offline(browser, path, images=9)
    assert seen["title"] == "Feedback for ann lee"


def test_a_submission_that_did_not_import_renders_its_reason_once(browser, tmp_path):
    path = tmp_path / "carol.html"
    path.write_text(feedback_html(did_not_import(), ["mlp", "rnn"]))
    assert_whole_offline(browser, path, images=0)
    assert path.read_text().count("FileNotFoundError") == 1


def test_the_class_overview_renders_offline(browser, tmp_path):
    path = tmp_path / "overview.html"
    path.write_text(overview_html([every_kind_of_failure(), did_not_import()], ["mlp", "attention", "rnn", "gnn"], generated="now"))
    assert_whole_offline(browser, path, images=4)  # a histogram per assignment with a submission


def test_the_pages_a_batch_writes_render_offline(browser, tiny_course, tmp_path):
    subs = tmp_path / "subs"
    for student, body in (("ann", "x + x"), ("bob", "x * 3")):
        (subs / student).mkdir(parents=True)
        (subs / student / "tiny.py").write_text(f"import torch\n\ndef double(x):\n    return {body}\n")
    out = tmp_path / "out"
    grade_class(load_class(subs, ["tiny"]), BatchOptions(out=out, assignments=["tiny"], limits=SandboxLimits(call_seconds=20)))
    assert_whole_offline(browser, out / "feedback" / "ann.html", images=0)
    assert_whole_offline(browser, out / "feedback" / "bob.html", images=2)
    assert_whole_offline(browser, out / "overview.html", images=1)


def test_the_check_notices_a_broken_image_and_an_external_address(browser, tmp_path):
    """The assertions above have teeth: an undecodable picture and a remote stylesheet fail them."""
    broken = tmp_path / "broken.html"
    broken.write_text('<!DOCTYPE html><html><head><title>x</title></head><body><img src="data:image/png;base64,AAAA" alt="">'
                      "</body></html>")
    with pytest.raises(AssertionError, match="did not render"):
        assert_whole_offline(browser, broken)
    remote = tmp_path / "remote.html"
    remote.write_text('<!DOCTYPE html><html><head><link rel="stylesheet" href="https://cdn.example.org/a.css"></head></html>')
    with pytest.raises(AssertionError, match="outside the page"):
        assert_whole_offline(browser, remote)
