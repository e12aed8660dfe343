"""Cost arithmetic, property-tested: integer micro-credits, rounded half-up once per event,
computed exactly (compared with rational arithmetic), no floats anywhere."""

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from billing.money import format_credits, parse_credits
from models_catalog.models import Rate
from models_catalog.pricing import Usage, cost_micro

prices = st.decimals(min_value=0, max_value=10_000, places=6, allow_nan=False, allow_infinity=False)
optional_prices = st.none() | prices
tokens = st.integers(min_value=0, max_value=10**9)


def _half_up(x: Fraction) -> int:
    return int((x + Fraction(1, 2)).__floor__())


@given(prices, prices, optional_prices, optional_prices, tokens, tokens, tokens, tokens)
def test_token_cost_is_exact_rate_times_tokens_rounded_half_up_once(
    inp, out, reasoning, cached, n_in, n_out, n_reason, n_cached
):
    rate = Rate(
        input_per_mtok=inp,
        output_per_mtok=out,
        reasoning_per_mtok=reasoning,
        cached_input_per_mtok=cached,
    )
    usage = Usage(
        input_tokens=n_in,
        output_tokens=n_out,
        reasoning_tokens=n_reason,
        cached_input_tokens=n_cached,
    )
    exact = (
        Fraction(inp) * n_in
        + Fraction(out) * n_out
        + Fraction(reasoning if reasoning is not None else out) * n_reason
        + Fraction(cached if cached is not None else inp) * n_cached
    )
    cost = cost_micro(rate, usage)
    assert type(cost) is int
    assert cost == _half_up(exact)


@given(
    prices,
    st.decimals(min_value=0, max_value=100_000, places=6, allow_nan=False, allow_infinity=False),
)
def test_unit_cost_is_exact_and_half_up(unit_price, units):
    cost = cost_micro(Rate(unit_price=unit_price, unit="image"), Usage(units=units))
    assert type(cost) is int
    assert cost == _half_up(Fraction(unit_price) * 1_000_000 * Fraction(units))


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_credits_round_trip_through_their_decimal_string(micro):
    assert parse_credits(format_credits(micro)) == micro


def test_half_a_micro_credit_rounds_up_once_per_event():
    rate = Rate(input_per_mtok=Decimal("0.5"), output_per_mtok=Decimal("0.5"))
    assert cost_micro(rate, Usage(input_tokens=1)) == 1  # 0.5 -> 1
    assert cost_micro(rate, Usage(input_tokens=1, output_tokens=1)) == 1  # 0.5 + 0.5 = 1, not 2
