"""The demo company: Ridgeway Outdoor, a multi-region outdoor retailer, as data.

:func:`generate_demo` draws a year of customers in Korea, the US, Germany and Japan
(events, identity links, survey answers and the ground truth) as Arrow tables;
:func:`write_demo` writes them as Parquet. See docs/demo.md.
"""

from __future__ import annotations

from journeymap.demo.generator import CUSTOMERS_SCHEMA, DemoData, generate_demo
from journeymap.demo.writer import DemoFiles, write_demo

__all__ = ["CUSTOMERS_SCHEMA", "DemoData", "DemoFiles", "generate_demo", "write_demo"]
