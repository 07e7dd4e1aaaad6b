"""``splitbrain stress TARGET``: a thread-safe limiter under real OS threads, recorded and checked.

Importing this module is cheap (click only); :mod:`splitbrain.live.stress` is imported when it runs.
"""

from __future__ import annotations

import sys

import click

EXIT_OK, EXIT_VIOLATION, EXIT_UNKNOWN = 0, 1, 2
TARGETS = ("token-bucket", "leaky-bucket")  # the keys of splitbrain.live.stress.STRESS_TARGETS


@click.command("stress")
@click.argument("target", type=click.Choice(TARGETS))
@click.option("--variant", "-v", default="correct", show_default=True,
              help="correct, check-then-act or clock-backwards.")
@click.option("--threads", type=click.IntRange(min=1), default=8, show_default=True, help="Real OS threads.")
@click.option("--calls", type=click.IntRange(min=1), default=2000, show_default=True,
              help="try_acquire() calls per run, split over the threads.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=500.0, show_default=True,
              help="Tokens per second.")
@click.option("--burst", type=click.IntRange(min=1), default=5, show_default=True, help="Bucket size.")
@click.option("--noise/--no-noise", default=True, show_default=True,
              help="time.sleep(0) at every point the object declares (ConTest-style noise).")
@click.option("--switch-interval", type=click.FloatRange(min=0, min_open=True, max=1), default=1e-6,
              show_default=True, help="sys.setswitchinterval during the run, in seconds.")
@click.option("--attempts", type=click.IntRange(min=1), default=1, show_default=True,
              help="Repeat the run until a violation is found, at most this many times.")
@click.option("--save", type=click.Path(dir_okay=False), default=None,
              help="Write the (last) history as JSONL to this file.")
def stress(
    target: str, variant: str, threads: int, calls: int, rate: float, burst: int, noise: bool,
    switch_interval: float, attempts: int, save: str | None,
) -> None:
    """Call TARGET's try_acquire() from many real threads, record every call with monotonic timestamps, and
    check the history against the rate-limit properties (splitbrain.checker.rate_limit).

    Exit status: 0 every run passed, 1 a violation was found, 2 unknown, 3 usage error.
    """
    from splitbrain.histories.io import write_history
    from splitbrain.live.stress import stress_until

    result, ran = stress_until(
        target, variant, attempts=attempts, threads=threads, calls=calls, rate=rate, burst=burst, noise=noise,
        switch_interval=switch_interval,
    )
    colour = "green" if result.valid is True else "red" if result.valid is False else "yellow"
    runs = f" (run {ran} of at most {attempts})" if attempts > 1 else ""
    click.echo(click.style(result.summary() + runs, fg=colour, bold=True))
    click.echo(result.explanation)
    if save is not None:
        write_history(result.history, save)
        click.echo(f"history: {save}")
    if result.valid is False:
        sys.exit(EXIT_VIOLATION)
    if result.valid is not True:
        sys.exit(EXIT_UNKNOWN)
