"""zhimei.review (capabilities arrive with their issues)."""
