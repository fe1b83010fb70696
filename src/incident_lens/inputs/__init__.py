"""Reading what users bring: report files (CSV, TSV, Parquet, JSONL, Excel .xlsx), gold sets with their splits, task files.

Everything here validates as it reads and raises `UserError` naming the file, row and column.
"""
