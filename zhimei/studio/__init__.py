"""zhimei.studio (capabilities arrive with their issues)."""
