"""Real data: Olist review scores by delivery lateness, through the product path.

Orders are imported with ``examples/data/olist-orders.mapping.yaml`` (one event per
milestone, each order's customer id linked to its order id), reviews as feedback (the
1-5 review score as both ``csat`` and ``rating``), the two identifiers are stitched, and
``measure_satisfaction`` measures each group of orders. The lateness of an order
(delivered after its estimated delivery date) is the analyst's grouping and comes from
the orders file; every expected figure is computed here with pandas from the CSV files,
independently of the import and the analytics. Skipped, with the reason, when the
shared folder is absent.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
from scipy import stats as sst

from journeymap.analytics.identity import stitched_events
from journeymap.analytics.mapping import map_events
from journeymap.analytics.stats import compare_two_means
from journeymap.engines.identity import stitch_identities
from journeymap.engines.satisfaction import SatisfactionMeasures, measure_satisfaction
from journeymap.io.importers.base import ImportOptions
from journeymap.io.workspace import import_source
from journeymap.model import JourneyMap

EXAMPLES = Path(__file__).parents[1] / "examples" / "data"

JMAP = JourneyMap.model_validate(
    {
        "id": "olist-order",
        "title": "An Olist order",
        "stages": [
            {
                "id": "order",
                "name": "Order",
                "steps": [
                    {"id": name, "name": name, "events": {"match": {"event": event}}}
                    for name, event in (
                        ("purchase", "order_purchased"),
                        ("approval", "payment_approved"),
                        ("carrier", "handed_to_carrier"),
                        ("delivery", "delivered"),
                    )
                ],
            }
        ],
    }
)

REVIEWS_MAPPING = """\
actor: order_id
actor_kind: order_id
ts: review_answer_timestamp
timezone: America/Sao_Paulo
scores:
  - {column: review_score, scale: csat}
  - {column: review_score, scale: rating}
"""


def data_file(shared_data: Path, name: str) -> Path:
    path = shared_data / "olist" / "sample_4k_orders_with_reviews" / name
    if not path.is_file():
        pytest.skip(f"{path} is not here (the shared real-data folder is incomplete)")
    return path


@pytest.fixture(scope="module")
def olist(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from journeymap.io.workspace import init_workspace

    orders_csv = data_file(shared_data, "olist_orders_dataset.csv")
    reviews_csv = data_file(shared_data, "olist_order_reviews_dataset.csv")
    folder = tmp_path_factory.mktemp("olist")
    ws = init_workspace(folder / "ws")
    mapping = folder / "reviews.mapping.yaml"
    mapping.write_text(REVIEWS_MAPPING, encoding="utf-8")
    import_source(
        ws,
        orders_csv,
        options=ImportOptions(mapping=EXAMPLES / "olist-orders.mapping.yaml"),
        progress=False,
    )
    report = import_source(
        ws, reviews_csv, fmt="feedback", options=ImportOptions(mapping=mapping), progress=False
    )
    yield ws, report, orders_csv, reviews_csv
    ws.close()


def expected_groups(orders_csv: Path, reviews_csv: Path) -> pd.DataFrame:
    """Per group (late / on time): reviews, mean score and CSAT, with pandas alone."""
    orders = pd.read_csv(orders_csv)
    reviews = pd.read_csv(reviews_csv)
    delivered = orders.dropna(subset=["order_delivered_customer_date"]).copy()
    delivered["late"] = pd.to_datetime(delivered["order_delivered_customer_date"]) > (
        pd.to_datetime(delivered["order_estimated_delivery_date"])
    )
    joined = reviews.merge(delivered[["order_id", "late"]], on="order_id", how="inner")
    return joined.groupby("late")["review_score"].agg(
        count="count",
        mean="mean",
        std="std",
        csat=lambda s: (s >= 4).mean(),
    )


def late_orders(orders_csv: Path) -> dict[bool, list[str]]:
    orders = pd.read_csv(orders_csv).dropna(subset=["order_delivered_customer_date"])
    late = pd.to_datetime(orders["order_delivered_customer_date"]) > pd.to_datetime(
        orders["order_estimated_delivery_date"]
    )
    return {
        True: orders.loc[late, "order_id"].tolist(),
        False: orders.loc[~late, "order_id"].tolist(),
    }


def measure_group(ws: Any, order_ids: list[str]) -> SatisfactionMeasures:
    stitching = stitch_identities(ws.con, ws.table("identity_links"))
    try:
        events = stitched_events(ws.table("events"), stitching.members)
        feedback = stitched_events(ws.table("feedback"), stitching.members)
        wanted = ibis.memtable({"_order": order_ids})
        # the group: reviews of these orders (each review arrived under its order id)
        feedback = feedback.semi_join(wanted, feedback.identifier_id == wanted._order)
        mapped = map_events(events, JMAP).table
        # a year: a review may come weeks after the last milestone of a late order
        return measure_satisfaction(ws.con, feedback, mapped, JMAP, window=timedelta(days=365))
    finally:
        stitching.release()


def test_late_deliveries_score_lower_and_every_figure_equals_pandas(olist: Any) -> None:
    ws, report, orders_csv, reviews_csv = olist
    reviews = pd.read_csv(reviews_csv)
    # every review loads twice (csat and rating), nothing quarantined
    assert (report.rows_read, report.rows_quarantined) == (len(reviews), 0)
    assert report.feedback_loaded == 2 * len(reviews)
    expected = expected_groups(orders_csv, reviews_csv)
    groups = late_orders(orders_csv)
    measured: dict[bool, dict[str, Any]] = {}
    for late in (True, False):
        m = measure_group(ws, groups[late])
        n = int(expected.loc[late, "count"])
        # each review is two feedback rows, and all of them attach (a milestone precedes)
        assert (m.responses, m.unattached) == (2 * n, 0)
        figures = {f.scale: f for f in m.stages["order"]}
        assert figures["rating"].responses == figures["csat"].responses == n
        assert figures["rating"].score.value == pytest.approx(expected.loc[late, "mean"])
        assert figures["csat"].score.value == pytest.approx(expected.loc[late, "csat"])
        interval = sst.t.interval(
            0.95,
            n - 1,
            loc=expected.loc[late, "mean"],
            scale=expected.loc[late, "std"] / n**0.5,
        )
        assert (figures["rating"].score.low, figures["rating"].score.high) == pytest.approx(
            interval
        )
        measured[late] = {"n": n, "rating": figures["rating"], "csat": figures["csat"]}
        # the stage's measured emotion is the mean of score - 3 (rows counted twice alike)
        assert m.stage_emotion["order"] == pytest.approx(expected.loc[late, "mean"] - 3)
    late, on_time = measured[True], measured[False]
    assert late["rating"].score.value < on_time["rating"].score.value
    assert late["csat"].score.value < on_time["csat"].score.value
    # and not by chance: Welch's test on the two groups' summaries
    test = compare_two_means(
        late["n"],
        late["rating"].score.value,
        float(expected.loc[True, "std"]),
        on_time["n"],
        on_time["rating"].score.value,
        float(expected.loc[False, "std"]),
    )
    assert test.p_value is not None and test.p_value < 1e-6
    # the late group's interval lies wholly below the on-time group's
    assert late["rating"].score.high < on_time["rating"].score.low
