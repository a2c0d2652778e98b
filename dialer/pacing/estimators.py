"""Online estimates the predictive policy learns from events, with priors so it works from the first call.

- `OutcomeTimes`: when calls resolve (seconds after placement) and whether a person answered, as two
  forgetting histograms; gives the chance a still-ringing call will be answered by a person and the
  answer-time distribution of a new call.
- `LogNormalDurations`: talk or wrap-up durations, as an exponentially weighted log-mean/log-variance.
- `Rate`: an exponentially weighted frequency (a fast answer-rate detector).
Forgetting is per observation, not per second, so a small team learns as fast (in calls) as a big one.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of the normal underlying a lognormal with this mean and coefficient of variation."""
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


def normal_cdf(x: FloatArray) -> FloatArray:
    """Standard normal CDF for arrays (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return np.asarray(0.5 * (1.0 + np.sign(x) * erf), dtype=np.float64)


def lognormal_cdf(x: FloatArray, mu: float, sigma: float) -> FloatArray:
    safe = np.maximum(x, 1e-9)
    return np.where(x > 0, normal_cdf((np.log(safe) - mu) / sigma), 0.0)


class LogNormalDurations:
    """Exponentially weighted estimate of a lognormal duration distribution, starting from a prior."""

    def __init__(self, prior_mean: float, prior_cv: float, *, prior_weight: float, memory: float) -> None:
        self.mu, sigma = lognormal_params(prior_mean, prior_cv)
        self.var = sigma * sigma
        self.weight = prior_weight
        self.memory = memory
        self.count = 0

    def add(self, seconds: float) -> None:
        x = math.log(max(seconds, 0.05))
        self.count += 1
        self.weight = min(self.weight + 1.0, self.memory)
        alpha = 1.0 / self.weight
        delta = x - self.mu
        self.mu += alpha * delta
        self.var = (1.0 - alpha) * (self.var + alpha * delta * delta)

    @property
    def sigma(self) -> float:
        return math.sqrt(max(self.var, 1e-4))

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.var / 2.0)

    def cdf(self, x: FloatArray) -> FloatArray:
        return lognormal_cdf(x, self.mu, self.sigma)


class Rate:
    """Exponentially weighted frequency of a yes/no outcome."""

    def __init__(self, prior: float, *, prior_weight: float, memory: float) -> None:
        self.value = prior
        self.weight = prior_weight
        self.memory = memory

    def add(self, yes: bool) -> None:
        self.weight = min(self.weight + 1.0, self.memory)
        self.value += ((1.0 if yes else 0.0) - self.value) / self.weight


class OutcomeTimes:
    """Forgetting histograms (1 s bins) of resolution delays: person-answered vs everything else."""

    def __init__(
        self,
        *,
        prior_human_rate: float,
        prior_ring_mean: float,
        ring_timeout_s: float,
        prior_weight: float,
        memory: float,
        max_s: int = 90,
    ) -> None:
        self.bins = max_s + 1
        self.human = np.zeros(self.bins)
        self.other = np.zeros(self.bins)
        self.memory = memory
        self._scale = 1.0  # weight of the next observation; grows so older ones fade
        mu, sigma = lognormal_params(prior_ring_mean, 0.5)
        edges = np.arange(self.bins + 1, dtype=np.float64)
        ring = np.diff(lognormal_cdf(edges, mu, sigma))
        timeout_bin = min(self.bins - 1, int(ring_timeout_s))
        ring[timeout_bin] += ring[timeout_bin + 1 :].sum()
        ring[timeout_bin + 1 :] = 0.0
        ring /= ring.sum()
        self.human += prior_weight * prior_human_rate * ring
        other = 0.25 * ring
        other[timeout_bin] += 0.75
        self.other += prior_weight * (1.0 - prior_human_rate) * other
        self.observed = 0

    def add(self, delay_s: float, human: bool) -> None:
        index = min(self.bins - 1, max(0, int(delay_s)))
        if human:
            self.human[index] += self._scale
        else:
            self.other[index] += self._scale
        self.observed += 1
        self._scale *= math.exp(1.0 / self.memory)
        if self._scale > 1e12:
            self.human /= self._scale
            self.other /= self._scale
            self._scale = 1.0

    def human_rate(self) -> float:
        human = float(self.human.sum())
        return human / (human + float(self.other.sum()))

    def still_to_answer(self) -> FloatArray:
        """[r]: chance a call still unresolved r seconds after placement will be answered by a person."""
        human_left = np.cumsum(self.human[::-1])[::-1]
        other_left = np.cumsum(self.other[::-1])[::-1]
        # A call resolving during second b (delay in [b, b+1)) is still unresolved at elapsed r <= b.
        total = human_left + other_left
        return np.asarray(np.where(total > 0, human_left / np.maximum(total, 1e-300), 0.0))

    def answer_delay(self) -> FloatArray:
        """[b]: chance a new call is answered by a person during second b after placement."""
        total = float(self.human.sum() + self.other.sum())
        return np.asarray(self.human / total)
