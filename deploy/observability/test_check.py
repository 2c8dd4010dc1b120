#!/usr/bin/env python3
"""Tests that check.py catches what it claims to (run by deploy/validate.sh)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402


class CheckExprTest(unittest.TestCase):
    def setUp(self):
        self.series, self.bases = check.load_metrics()

    def problems(self, expr):
        out, used = [], set()
        check.check_expr("t", expr, self.series, self.bases, used, out)
        return out

    def test_valid_queries_pass(self):
        for expr in [
            'sum by (stage) (rate(docflow_records_in_total{job=~"$job",stage=~"$stage"}[$__rate_interval]))',
            "histogram_quantile(0.99, sum by (stage, le) (rate(document_processing_duration_seconds_bucket[5m]))) > 5",
            "sum by (stage) (deriv(docflow_consumer_lag[5m])) > 0 and sum by (stage) (docflow_consumer_lag) > 1000",
            'up{job="docflow"} == 0',
            'label_values(docflow_records_in_total{job=~"$job"}, stage)',
            "max by (stage, topic, partition) (docflow_consumer_lag)",
        ]:
            self.assertEqual(self.problems(expr), [], expr)

    def test_unknown_metric_fails(self):
        self.assertTrue(any("docflow_records_total" in p for p in self.problems("rate(docflow_records_total[5m])")))

    def test_histogram_base_name_fails_with_hint(self):
        out = self.problems("rate(document_processing_duration_seconds[5m])")
        self.assertTrue(any("_bucket/_sum/_count" in p for p in out), out)

    def test_unknown_matcher_label_fails(self):
        out = self.problems('docflow_in_flight{partition="3"}')
        self.assertTrue(any("no label 'partition'" in p for p in out), out)

    def test_unknown_grouping_label_fails(self):
        out = self.problems("sum by (reason) (rate(docflow_records_in_total[5m]))")
        self.assertTrue(any("'reason'" in p for p in out), out)

    def test_le_only_on_buckets(self):
        self.assertEqual(self.problems("sum by (le) (rate(docflow_encoder_batch_size_bucket[5m]))"), [])
        self.assertTrue(self.problems("sum by (le) (rate(docflow_encoder_batch_size_sum[5m]))"))

    def test_unknown_function_fails(self):
        self.assertTrue(self.problems("rte(docflow_records_in_total[5m])"))

    def test_label_values_label_checked(self):
        self.assertTrue(self.problems("label_values(docflow_records_in_total, topic)"))


class AnalyseTest(unittest.TestCase):
    def test_strings_and_ranges_are_not_metrics(self):
        sels, grouping, _ = check.analyse('sum without (instance) (rate(x_total{a="rate(y)"}[5m] offset 1h))')
        self.assertEqual([s[0] for s in sels], ["x_total"])
        self.assertEqual(grouping, {"instance"})


if __name__ == "__main__":
    unittest.main()
