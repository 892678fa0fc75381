"""Pure renderers: settings and data files in, configuration text out. No Pulumi here."""
