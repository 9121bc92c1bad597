-- Household budget database (SQLite). Loaded from the categorised CSVs by load.py.
-- Amounts are stored in pence to avoid floating point.

CREATE TABLE IF NOT EXISTS accounts (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,          -- 'Joint current', 'Nadia savings', 'Pip JISA'
    institution TEXT NOT NULL,
    opened_on   DATE
);

CREATE TABLE IF NOT EXISTS categories (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    is_fixed INTEGER NOT NULL DEFAULT 0        -- 1 = bills that don't change month to month
);

CREATE TABLE IF NOT EXISTS transactions (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    posted_on    DATE NOT NULL,
    description  TEXT NOT NULL,
    amount_pence INTEGER NOT NULL,            -- negative = money out
    category_id  INTEGER REFERENCES categories(id),
    UNIQUE (account_id, posted_on, description, amount_pence)
);
CREATE INDEX IF NOT EXISTS ix_txn_month ON transactions (substr(posted_on, 1, 7), category_id);

CREATE TABLE IF NOT EXISTS budgets (
    month        TEXT NOT NULL,               -- 'YYYY-MM'
    category_id  INTEGER NOT NULL REFERENCES categories(id),
    limit_pence  INTEGER NOT NULL,
    PRIMARY KEY (month, category_id)
);

-- Spend per category per month against the budget
CREATE VIEW IF NOT EXISTS v_monthly_spend AS
SELECT substr(t.posted_on, 1, 7)       AS month,
       c.name                          AS category,
       -SUM(t.amount_pence) / 100.0    AS spent_gbp,
       b.limit_pence / 100.0           AS budget_gbp,
       (b.limit_pence + SUM(t.amount_pence)) / 100.0 AS left_gbp
FROM transactions t
JOIN categories c ON c.id = t.category_id
LEFT JOIN budgets b ON b.category_id = c.id AND b.month = substr(t.posted_on, 1, 7)
WHERE t.amount_pence < 0
GROUP BY 1, 2;

INSERT OR IGNORE INTO categories (name, is_fixed) VALUES
    ('Rent', 1), ('Council tax', 1), ('Energy', 1), ('Water', 1), ('Broadband', 1),
    ('Insurance', 1), ('Groceries', 0), ('Pip - school', 0), ('Pip - activities', 1),
    ('Pet', 0), ('Car', 0), ('Bike', 0), ('Health', 0), ('Eating out', 0),
    ('Subscriptions', 1), ('Savings', 1);

-- 2025 monthly limits (see finance/budget-2025.md)
INSERT OR REPLACE INTO budgets (month, category_id, limit_pence)
SELECT '2025-01', id, CASE name
    WHEN 'Rent'             THEN 138500
    WHEN 'Council tax'      THEN 16800
    WHEN 'Energy'           THEN 14200
    WHEN 'Groceries'        THEN 65000
    WHEN 'Eating out'       THEN 12000
    WHEN 'Pip - activities' THEN 14800
    WHEN 'Pet'              THEN 3920
    WHEN 'Subscriptions'    THEN 3100
    ELSE 0 END
FROM categories;
