import type { ComponentChildren } from 'preact';
import { formatBytes, formatTime, pullRequestNumber, pullRequestUrl } from '../format.js';
import type { Branch } from '../wire.js';
import type { Sizes } from './session.js';

const STATE_TEXT: Record<Branch['state'], string> = { running: 'running', suspended: 'suspended', stopped: 'stopped', unhealthy: 'unhealthy' };

export function StateBadge({ state }: { state: Branch['state'] }) {
  return <span class={`badge state-${state}`}>{STATE_TEXT[state]}</span>;
}

export function ProtectedBadge() {
  return (
    <span class="badge protected" title="delete, reset and expiry are refused until unprotected">
      protected
    </span>
  );
}

/** Masked data (a masked branch, a branch or snapshot of one): which rules, and when. */
export function MaskedBadge({ masked }: { masked: Branch['masked'] }) {
  if (!masked) return null;
  return (
    <span class="badge masked" title={`personal data masked with rules ${masked.rules_sha256.slice(0, 12)}… at ${formatTime(masked.masked_at)}`}>
      masked
    </span>
  );
}

export function PullRequest({ branch, repository }: { branch: string; repository: string | null | undefined }) {
  const number = pullRequestNumber(branch);
  if (number === null) return null;
  const url = pullRequestUrl(number, repository);
  return url ? (
    <a class="badge pr" href={url} rel="noreferrer noopener" target="_blank">
      PR #{number}
    </a>
  ) : (
    <span class="badge pr" title="pull request, from the branch name">
      PR #{number}
    </span>
  );
}

/**
 * Own and shared bytes as one bar (SVG attributes, not inline styles: the CSP forbids those),
 * scaled to the largest branch on the page.
 */
export function SizeBar({ sizes, scaleBytes }: { sizes: Sizes | undefined; scaleBytes: number }) {
  if (!sizes || sizes.own === null) return <span class="muted">not measured yet</span>;
  const shared = sizes.shared ?? 0;
  const scale = Math.max(scaleBytes, 1);
  const own = (sizes.own / scale) * 100;
  const sharedWidth = (shared / scale) * 100;
  const label = `${formatBytes(sizes.own)} own, ${formatBytes(shared)} shared`;
  return (
    <span class="size">
      <svg class="size-bar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label={label}>
        <rect class="size-track" x="0" y="0" width="100" height="10" />
        <rect class="size-own" x="0" y="0" width={own} height="10" />
        <rect class="size-shared" x={own} y="0" width={sharedWidth} height="10" />
      </svg>
      <span class="size-text">
        <span>{formatBytes(sizes.own)}</span> <span class="muted">/ {formatBytes(shared)} shared</span>
      </span>
    </span>
  );
}

/** The equivalent CLI command, selectable. */
export function Cli({ command, label = 'CLI' }: { command: string; label?: string }) {
  return (
    <p class="cli">
      <span class="cli-label">{label}</span>
      <code>{command}</code>
    </p>
  );
}

export function Time({ iso }: { iso: string | null }) {
  return iso === null ? <span class="muted">—</span> : <time dateTime={iso}>{formatTime(iso)}</time>;
}

export function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

export function sizesOf(branch: Branch, measured: ReadonlyMap<string, Sizes>): Sizes | undefined {
  if (branch.own_bytes !== null) return { own: branch.own_bytes, shared: branch.shared_bytes, total: branch.total_bytes };
  return measured.get(branch.id);
}
