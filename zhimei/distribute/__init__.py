"""zhimei.distribute (capabilities arrive with their issues)."""
