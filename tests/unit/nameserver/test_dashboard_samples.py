"""Throughput samples for the dashboard chart: rates between consecutive samples, a ring
buffer that keeps only the last KEEP, and no negative rate when a total goes backwards."""

from __future__ import annotations

from nameserver.dashboard.samples import KEEP, Sample, Throughput


def _throughput(samples: list[Sample]) -> Throughput:
    made = Throughput(metrics=None, store=None)  # type: ignore[arg-type]  # rates() only
    made.samples.extend(samples)
    return made


def test_rates_are_differences_over_the_interval() -> None:
    rates = _throughput([Sample(100.0, 0, 0), Sample(105.0, 5000, 1000),
                         Sample(110.0, 5000, 6000)]).rates()
    assert rates == [
        {"at": 105.0, "written_bytes_per_s": 1000.0, "repaired_bytes_per_s": 200.0},
        {"at": 110.0, "written_bytes_per_s": 0.0, "repaired_bytes_per_s": 1000.0},
    ]


def test_rates_never_go_negative_when_a_total_restarts() -> None:
    rates = _throughput([Sample(0.0, 9000, 9000), Sample(5.0, 10, 10)]).rates()
    assert rates[0]["written_bytes_per_s"] == 0 and rates[0]["repaired_bytes_per_s"] == 0


def test_only_the_last_samples_are_kept() -> None:
    made = _throughput([Sample(float(t), t, 0) for t in range(KEEP + 50)])
    assert len(made.samples) == KEEP
    assert made.samples[0].at == 50.0
    assert len(made.rates()) == KEEP - 1
