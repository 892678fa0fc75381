// Types that dashboards/*.json must satisfy, built on Grafana's own schema package.
// tests/test_dashboards_schema.py writes one `const x: DashboardJson = <file>` per
// dashboard (and one `PanelJson<type>` per panel) and runs `tsc --noEmit --strict`:
// excess property checks on object literals reject misspelt keys, and the
// composable panel types reject misspelt panel options that the dashboard type
// leaves open (`options: Record<string, unknown>`).
import type { Dashboard, FieldConfig, FieldConfigSource, Panel } from '@grafana/schema';
import type * as gauge from '@grafana/schema/dist/esm/raw/composable/gauge/panelcfg/x/GaugePanelCfg_types.gen';
import type * as stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type * as timeseries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

type IsAny<T> = 0 extends 1 & T ? true : false;

// JSON has no enums: Grafana's string enums (FieldColorModeId, ThresholdsMode,
// MappingType, ...) become the unions of their literal values, which is what an
// exported dashboard holds. Numeric enums already accept their numbers.
export type Json<T> = IsAny<T> extends true
  ? T
  : T extends string
    ? `${T}`
    : T extends number | boolean | null | undefined
      ? T
      : T extends ReadonlyArray<infer U>
        ? Array<Json<U>>
        : T extends object
          ? { [K in keyof T]: Json<T[K]> }
          : T;

export type DashboardJson = Json<Dashboard>;

// Panel options and custom field config per visualisation. Partial: a dashboard
// may leave any option at Grafana's default, and the schema package describes a
// newer Grafana than the one deployed, whose required options would not apply.
interface PanelKinds {
  gauge: { options: gauge.Options; custom: Record<string, never> };
  stat: { options: stat.Options; custom: Record<string, never> };
  table: { options: table.Options; custom: table.FieldConfig };
  timeseries: { options: timeseries.Options; custom: timeseries.FieldConfig };
}

export type PanelType = keyof PanelKinds;

export type PanelJson<K extends PanelType> = Omit<Json<Panel>, 'type' | 'options' | 'fieldConfig'> & {
  type: K;
  options?: Partial<Json<PanelKinds[K]['options']>>;
  fieldConfig?: {
    defaults: Omit<Json<FieldConfig>, 'custom'> & { custom?: Partial<Json<PanelKinds[K]['custom']>> };
    overrides: Json<FieldConfigSource['overrides']>;
  };
};
