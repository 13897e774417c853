"""The token bucket behind the per-connection and per-seat rates."""

from signaling import RateLimiter, Verdict


def test_a_burst_then_the_rate() -> None:
    bucket = RateLimiter(rate=10.0, burst=5, last=0.0)
    assert [bucket.take(0.0) for _ in range(5)] == [Verdict.ALLOW] * 5
    assert bucket.take(0.0) is Verdict.REFUSE
    assert bucket.take(0.1) is Verdict.ALLOW  # one token refilled


def test_sustained_abuse_closes_but_a_brief_excess_does_not() -> None:
    bucket = RateLimiter(rate=10.0, burst=5, last=0.0)
    verdicts = [bucket.take(n / 100) for n in range(100)]  # 100/s against 10/s
    assert verdicts[-1] is Verdict.CLOSE
    gentle = RateLimiter(rate=10.0, burst=5, last=0.0)
    verdicts = [gentle.take(n / 11) for n in range(200)]  # 11/s against 10/s
    assert Verdict.CLOSE not in verdicts


def test_time_going_backwards_refills_nothing() -> None:
    bucket = RateLimiter(rate=10.0, burst=1, last=5.0)
    assert bucket.take(5.0) is Verdict.ALLOW
    assert bucket.take(1.0) is Verdict.REFUSE
