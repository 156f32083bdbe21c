"""Language routing, per-language NLU components and the crisis layer."""
