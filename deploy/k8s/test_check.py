#!/usr/bin/env python3
"""Tests that check.py catches broken manifests (run by deploy/validate.sh).

Renders nothing itself: takes one rendered overlay (argv[1], from
`kubectl kustomize`), breaks one thing at a time and expects the named
problem.
"""

import copy
import os
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

RENDERED = None


def find(docs, kind, name):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


class BreakOneThing(unittest.TestCase):
    def setUp(self):
        with open(RENDERED, encoding="utf-8") as f:
            self.docs = [d for d in yaml.load_all(f, Loader=check.LOADER) if d]

    def problems(self, docs):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.dump_all(docs, f, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper))
        try:
            out = []
            check.check_render(f.name, out)
            return out
        finally:
            os.unlink(f.name)

    def expect(self, docs, fragment):
        out = self.problems(docs)
        self.assertTrue(any(fragment in p for p in out), f"expected {fragment!r} in {out}")

    def test_rendered_overlay_is_clean(self):
        self.assertEqual(self.problems(self.docs), [])

    def test_misspelled_scaledobject_field(self):
        so = find(self.docs, "ScaledObject", "docflow-score")
        so["spec"]["minReplicaCout"] = so["spec"].pop("minReplicaCount")
        self.expect(self.docs, "'minReplicaCout' was unexpected")

    def test_max_replicas_above_partitions(self):
        find(self.docs, "ScaledObject", "docflow-persist")["spec"]["maxReplicaCount"] = 7
        self.expect(self.docs, "exceeds the input's 6 partitions")

    def test_wrong_consumer_group_and_topic(self):
        md = find(self.docs, "ScaledObject", "docflow-infer")["spec"]["triggers"][0]["metadata"]
        md["consumerGroup"] = "docflow-score"
        md["topic"] = "docs.embedded"
        self.expect(copy.deepcopy(self.docs), "is not docflow-infer")
        self.expect(self.docs, "is not an input of infer")

    def test_threshold_unreachable_under_backpressure(self):
        find(self.docs, "ScaledObject", "docflow-score")["spec"]["triggers"][0]["metadata"]["lagThreshold"] = "25000"
        self.expect(self.docs, "exceeds the upstream backpressure high_water")

    def test_grace_period_shorter_than_drain(self):
        find(self.docs, "Deployment", "docflow-parse")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 20
        self.expect(self.docs, "must exceed the drain budget")

    def test_readiness_probe_on_wrong_path(self):
        c = find(self.docs, "Deployment", "docflow-persist")["spec"]["template"]["spec"]["containers"][0]
        c["readinessProbe"]["httpGet"]["path"] = "/healthz"
        self.expect(self.docs, "readinessProbe must GET /readyz")

    def test_learn_must_not_autoscale(self):
        so = copy.deepcopy(find(self.docs, "ScaledObject", "docflow-score"))
        so["metadata"]["name"] = "docflow-learn"
        so["spec"]["scaleTargetRef"]["name"] = "docflow-learn"
        self.docs.append(so)
        self.expect(self.docs, "learn must not be autoscaled")

    def test_missing_pdb(self):
        self.docs = [d for d in self.docs if not (d["kind"] == "PodDisruptionBudget" and d["metadata"]["name"] == "docflow-score")]
        self.expect(self.docs, "no PodDisruptionBudget selects its pods")

    def test_unknown_crd_kind(self):
        self.docs.append({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
        self.expect(self.docs, "no schema for example.com/v1 Widget")

    def test_bootstrap_servers_must_match_configmap(self):
        find(self.docs, "ScaledObject", "docflow-parse")["spec"]["triggers"][0]["metadata"]["bootstrapServers"] = "kafka:9092"
        self.expect(self.docs, "differs from DOCFLOW_KAFKA_BROKERS")

    def test_missing_limits(self):
        c = find(self.docs, "Deployment", "docflow-score")["spec"]["template"]["spec"]["containers"][0]
        del c["resources"]["limits"]["memory"]
        self.expect(self.docs, "has no limits.memory")


if __name__ == "__main__":
    RENDERED = sys.argv.pop(1)
    unittest.main()
