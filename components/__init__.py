"""The scheduler-monitoring Pulumi program: settings, renderers, components, platforms."""
