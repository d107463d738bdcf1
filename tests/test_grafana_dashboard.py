"""deploy/grafana/parseq.json: every query names only metrics Parseq really exports — the
web's registry (collected from the database) and Dramatiq's worker middleware (built in a
separate interpreter, since it switches prometheus_client to multiprocess mode)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from scripts_app.observability import metrics
from tests.deploy_helpers import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "parseq.json"
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
KEYWORDS |= {"and", "or", "unless", "inf", "nan"}
SUFFIXES = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_count", "_sum"]}

DRAMATIQ_FAMILIES = """
import json, os, sys, tempfile
os.environ["dramatiq_prom_db"] = tempfile.mkdtemp()
from dramatiq.middleware.prometheus import Prometheus
from prometheus_client.metrics import MetricWrapperBase
middleware = Prometheus()
middleware.after_process_boot(None)
families = [f for m in vars(middleware).values() if isinstance(m, MetricWrapperBase)
            for f in m.describe()]
json.dump([[f.name, f.type] for f in families], sys.stdout)
"""


def sample_names(families) -> set[str]:
    return {name + suffix for name, kind in families for suffix in SUFFIXES[kind]}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not functions, labels or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # label lists
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        following = expr[match.end() :].lstrip()[:1]
        if match.group() not in KEYWORDS and following != "(":
            names.add(match.group())
    return names


def queries(dashboard: dict) -> list[str]:
    found = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            found += [target["expr"] for target in inner.get("targets", [])]
    return found


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture
def exported(db) -> set[str]:
    web = [(f.name, f.type) for f in metrics.registry().collect()]
    out = subprocess.run(
        [sys.executable, "-c", DRAMATIQ_FAMILIES], capture_output=True, text=True, check=True
    ).stdout
    return sample_names(web) | sample_names(json.loads(out))


def test_the_parser_finds_metrics_and_skips_functions_labels_and_keywords():
    expr = 'histogram_quantile(0.9, max by (job, le) (rate(a_bucket{status=~"x|y"}[5m]))) / b'
    assert metric_names(expr) == {"a_bucket", "b"}


def test_every_query_names_a_metric_parseq_exports(dashboard, exported):
    assert "parseq_runs_finished_total" in exported  # the registry was really read
    assert "dramatiq_messages_total" in exported
    exprs = queries(dashboard)
    assert len(exprs) >= 12
    for expr in exprs:
        names = metric_names(expr)
        assert names, expr
        assert names <= exported, f"{sorted(names - exported)} in {expr!r}"


def test_it_shows_runs_by_status_durations_queue_depth_and_fire_lag(dashboard):
    used = set().union(*(metric_names(expr) for expr in queries(dashboard)))
    assert {
        "parseq_runs_finished_total",
        "parseq_run_duration_seconds_bucket",
        "parseq_runs_queued",
        "parseq_runs_running",
        "parseq_oldest_queued_run_age_seconds",
        "parseq_scheduler_fire_lag_seconds_bucket",
        "parseq_email_failures_total",
    } <= used


def test_database_derived_metrics_are_never_summed_across_web_replicas(dashboard):
    # Each replica reports the same numbers: summing them would multiply by the replicas.
    for expr in queries(dashboard):
        for name in metric_names(expr):
            if name.startswith("parseq_"):
                inner = re.search(rf"(\w+)(?:\s*by\s*\([^)]*\))?\s*\((?:\w+\()?{name}", expr)
                assert inner and inner.group(1) == "max", expr


def test_its_panels_use_the_dashboards_datasource_variable(dashboard):
    assert dashboard["uid"] and dashboard["title"] == "Parseq"
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
