"""Data drift and data quality between a reference and a current frame (SPEC §7 "Reports").

Pure domain code: pandas/numpy/scipy in, a :class:`DriftResult` out. No Slack, no MLflow.

Per feature, every numeric column is converted to float64 and sorted once per side; that
single sort serves the type detection (distinct values), the KS statistic, the Wasserstein
distance, the PSI quantile bins and the out-of-range share. Reference-side work (the sorted
array, std, quantile edges, category counts) lives in a :class:`ReferenceProfile`, which
``profile_reference`` builds once so a monitor can reuse it for every current batch. When
``compute_drift`` gets a reference *frame*, it profiles a column only while that column is
compared and drops its arrays right after, so the extra memory is about one column pair per
worker thread.

Modules, each importing only those listed before it:

* ``results``: FeatureOverride, FeatureDrift, DriftResult (what callers get back);
* ``numeric``: KS, Wasserstein and PSI on sorted float64 samples;
* ``profiles``: ColumnProfile, ReferenceProfile, reading a column into one;
* ``categorical``: chi-squared and Jensen-Shannon on category counts;
* ``quality``: out-of-range share, unseen categories;
* ``verdicts``: thresholds, the verdict rule, the Benjamini-Hochberg correction;
* ``compare``: one column pair from profiles to a verdict;
* ``engine``: ``profile_reference`` and ``compute_drift``, the column loop and its threads;
* ``profile_codec``, ``profile_merge``, ``profile_store``: profiles as Parquet files under the
  data dir, partition profiles merged (a monitor's reference profiled once, issue 15).

Names with a leading underscore are private to this package.
"""

from bot.monitoring.drift.engine import compute_drift, profile_reference
from bot.monitoring.drift.results import (
    Correction,
    DriftResult,
    FeatureDrift,
    FeatureOverride,
    FeatureStatus,
    by_severity,
)

__all__ = [
    "Correction",
    "DriftResult",
    "FeatureStatus",
    "by_severity",
    "FeatureDrift",
    "FeatureOverride",
    "compute_drift",
    "profile_reference",
]
