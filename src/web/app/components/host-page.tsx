import { formatBytes } from '../format.js';
import { Field } from './bits.js';
import { useSession } from './session.js';

function Usage({ used, total, label }: { used: number; total: number; label: string }) {
  const share = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  return (
    <span class="size">
      <svg class="size-bar wide" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label={label}>
        <rect class="size-track" x="0" y="0" width="100" height="10" />
        <rect class={share > 90 ? 'size-alarm' : 'size-own'} x="0" y="0" width={share} height="10" />
      </svg>
      <span class="size-text">{label}</span>
    </span>
  );
}

const limitText = (value: number | null, format: (n: number) => string = String) => (value === null ? 'unlimited' : format(value));

export function HostPage() {
  const { data } = useSession();
  const host = data.host;
  return (
    <section aria-labelledby="host-title">
      <div class="page-head">
        <h1 id="host-title" tabIndex={-1}>
          Host
        </h1>
      </div>
      {host === null ? (
        <p class="muted">Loading host status…</p>
      ) : (
        <div class="columns">
          <section class="card" aria-labelledby="pool-title">
            <h2 id="pool-title">Pool</h2>
            <dl class="fields">
              <Field label="Use">
                <Usage
                  used={host.pool.used_bytes}
                  total={host.pool.total_bytes}
                  label={`${formatBytes(host.pool.used_bytes)} of ${formatBytes(host.pool.total_bytes)} used, ${formatBytes(host.pool.free_bytes)} free`}
                />
              </Field>
              <Field label="Driver">
                {host.driver}
                <span class="muted">
                  {' '}
                  ({host.capabilities.atomic_snapshot ? 'atomic snapshots' : 'backup-mode clones'}
                  {host.capabilities.constant_time_clone ? ', constant-time clones' : ', full copies'})
                </span>
              </Field>
              <Field label="Path">
                <code>{host.pool_path}</code>
                {host.loop_image && <span class="muted"> (loop image {host.loop_image})</span>}
              </Field>
              <Field label="Per-branch caps">
                {host.branch_limits.kind}
                {host.branch_limits.reason && <span class="muted"> — {host.branch_limits.reason}</span>}
              </Field>
            </dl>
          </section>
          <section class="card" aria-labelledby="quotas-title">
            <h2 id="quotas-title">Quotas</h2>
            <dl class="fields">
              <Field label="Branches">
                {host.quotas.max_branches === null ? (
                  `${host.branches} (no limit)`
                ) : (
                  <Usage used={host.branches} total={host.quotas.max_branches} label={`${host.branches} of ${host.quotas.max_branches}`} />
                )}
              </Field>
              <Field label="Branches per token">{limitText(host.quotas.max_branches_per_token)}</Field>
              <Field label="Own bytes per branch">{limitText(host.quotas.max_own_bytes_per_branch, formatBytes)}</Field>
              <Field label="Pool free floor">{limitText(host.quotas.min_pool_free_bytes, formatBytes)}</Field>
            </dl>
          </section>
          <section class="card" aria-labelledby="pg-title">
            <h2 id="pg-title">PostgreSQL</h2>
            <dl class="fields">
              <Field label="Version">
                {host.postgres.version} <span class="muted">(major {host.postgres.major})</span>
              </Field>
              <Field label="Binaries">
                <code>{host.postgres.bin_dir}</code> <span class="muted">({host.postgres.source})</span>
              </Field>
              <Field label="Runs as">{host.postgres.os_user}</Field>
              <Field label="Home">
                <code>{host.home}</code>
              </Field>
            </dl>
          </section>
        </div>
      )}
    </section>
  );
}
