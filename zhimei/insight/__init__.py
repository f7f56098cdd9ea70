"""zhimei.insight (capabilities arrive with their issues)."""
