"""Categorise a bank statement CSV export (Harwick Building Society format).

Columns: date,description,amount,balance   (amount negative = money out)
Writes the same rows with a `category` column added, and prints a monthly summary.
Anything over LARGE_TXN_THRESHOLD is flagged for review.
"""
import csv
import re
import sys
from collections import defaultdict
from decimal import Decimal

LARGE_TXN_THRESHOLD = Decimal("250.00")
UNCATEGORISED = "Uncategorised"

# First match wins, so put the specific patterns above the general ones.
RULES: list[tuple[str, str]] = [
    (r"GREYLING PROP", "Rent"),
    (r"HARWICK COUNCIL|CTAX", "Council tax"),
    (r"HARWICK ENERGY", "Energy"),
    (r"EASTMERE WATER", "Water"),
    (r"LUMEN FIBRE", "Broadband"),
    (r"HARBOURLINE", "Insurance"),
    (r"PETGUARD", "Pet"),
    (r"HARWICK PAWS|PETS CORNER", "Pet"),
    (r"FRESHWAYS|GRAINSTORE|MARKET HALL", "Groceries"),
    (r"SCHOOLPURSE|LINDEN HILL", "Pip - school"),
    (r"SPLASH HARWICK", "Pip - activities"),
    (r"SPOKES & CO|SPOKES AND CO", "Bike"),
    (r"BRENNAN & SONS|FUELSTOP", "Car"),
    (r"SPORTS INJURY CLINIC", "Health"),
    (r"TFR TO SAVINGS|TFR TO JISA", "Savings"),
    (r"ASHDOWN JOINERY", "Income - Joel"),
    (r"QUILLFEATHER", "Income - Nadia"),
    (r"STREAMBOX|TUNEWAVE|CLOUDSAFE", "Subscriptions"),
    (r"DELIVERANCE FOODS|TASCA|PIZZ", "Eating out"),
]
_COMPILED = [(re.compile(p, re.I), cat) for p, cat in RULES]


def categorise(description: str) -> str:
    """Category for a transaction description, or UNCATEGORISED."""
    for pattern, category in _COMPILED:
        if pattern.search(description):
            return category
    return UNCATEGORISED


def main(path: str) -> None:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    flagged = []
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    writer = csv.DictWriter(sys.stdout, fieldnames=[*rows[0].keys(), "category"])
    writer.writeheader()
    for row in rows:
        amount = Decimal(row["amount"])
        row["category"] = categorise(row["description"])
        totals[row["category"]] += amount
        if abs(amount) > LARGE_TXN_THRESHOLD and row["category"] not in ("Rent", "Income - Nadia", "Income - Joel"):
            flagged.append(row)
        writer.writerow(row)
    print("\n# totals", file=sys.stderr)
    for cat, total in sorted(totals.items(), key=lambda kv: kv[1]):
        print(f"{cat:20} {total:>10}", file=sys.stderr)
    for row in flagged:
        print(f"REVIEW: {row['date']} {row['description']} {row['amount']}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
