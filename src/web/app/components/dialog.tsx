import type { ComponentChildren } from 'preact';
import { useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { canAccessBranch, cliCommand, permits, runAction, type ConsoleAction } from '../actions.js';
import { ConsoleApiError } from '../api.js';
import type { Branch, Snapshot } from '../wire.js';
import { Cli } from './bits.js';
import { useSession } from './session.js';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * A modal dialog: the native <dialog> in its modal mode (the page behind is inert), with Tab
 * kept inside it, Escape closing it and focus given back to what opened it.
 */
export function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  // What had focus when the dialog was asked for (the button that opened it), taken at first render.
  const [opener] = useState(() => (document.activeElement instanceof HTMLElement ? document.activeElement : null));
  // A layout effect: the dialog is modal and focused in the same task as it appears, so no key
  // press can land on the page behind it in between.
  useLayoutEffect(() => {
    const dialog = ref.current!;
    dialog.showModal();
    const first = dialog.querySelector<HTMLElement>('[data-autofocus]') ?? dialog.querySelector<HTMLElement>(FOCUSABLE);
    first?.focus();
    return () => {
      if (dialog.open) dialog.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'Tab') return;
    const items = [...ref.current!.querySelectorAll<HTMLElement>(FOCUSABLE)];
    if (items.length === 0) return;
    const first = items[0]!;
    const last = items[items.length - 1]!;
    const inside = ref.current!.contains(document.activeElement);
    if (e.shiftKey && (document.activeElement === first || !inside)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (document.activeElement === last || !inside)) {
      e.preventDefault();
      first.focus();
    }
  };

  return (
    <dialog
      ref={ref}
      class="modal"
      aria-labelledby={titleId}
      onKeyDown={onKeyDown}
      onCancel={(e) => {
        // Escape: close through our own state so that the component tree stays the truth.
        e.preventDefault();
        onClose();
      }}
    >
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

export interface DialogField {
  readonly id: string;
  readonly label: string;
  readonly hint?: string;
  readonly placeholder?: string;
  readonly initial?: string;
  /** Suggestions offered while typing (a <datalist>). */
  readonly suggestions?: readonly string[];
}

export interface ActionDialogProps {
  readonly title: string;
  readonly description?: ComponentChildren;
  readonly fields?: readonly DialogField[];
  /** The action the current field values describe, or why they do not describe one yet. */
  build(values: Record<string, string>): ConsoleAction | { readonly invalid: string };
  readonly confirmLabel: string;
  /** Destructive: the confirm button is red and Cancel has the first focus. */
  readonly danger?: boolean;
  onClose(): void;
  /** After the API accepted the action. */
  onDone?(result: Branch | Snapshot | undefined, action: ConsoleAction): void;
}

/** What the token may not do with this action, in words; null when it may. */
function refusal(action: ConsoleAction, caller: ReturnType<typeof useSession>['caller']): string | null {
  if (permits(caller, action)) return null;
  const target = action.kind === 'create' || action.kind === 'create-from-snapshot' ? action.name : action.branch;
  if (!canAccessBranch(caller, target)) {
    return `your token may only act on branches matching ${caller.branch_patterns.join(', ')}`;
  }
  return `your token's role (${caller.role}) does not allow this`;
}

/** A confirmation dialog for one action: its fields, the equivalent CLI command, the result. */
export function ActionDialog(props: ActionDialogProps) {
  const session = useSession();
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries((props.fields ?? []).map((f) => [f.id, f.initial ?? ''])),
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const baseId = useId();
  const action = props.build(values);
  const invalid = 'invalid' in action ? action.invalid : refusal(action, session.caller);
  const firstFieldless = (props.fields ?? []).length === 0;

  const submit = async (e: Event) => {
    e.preventDefault();
    if ('invalid' in action || invalid !== null || busy) return;
    setBusy(true);
    setError(null);
    try {
      const result = await runAction(session.api, action);
      session.announce(`done: ${cliCommand(action)}`);
      props.onClose();
      props.onDone?.(result, action);
      void session.refresh('branches', 'snapshots', 'sizes');
    } catch (err) {
      setBusy(false);
      if (err instanceof ConsoleApiError && err.status === 401) {
        session.signOut('The API no longer accepts this token (revoked?). Sign in again.');
        return;
      }
      setError(err instanceof ConsoleApiError ? `${err.message} (${err.code})` : (err as Error).message);
    }
  };

  return (
    <Modal title={props.title} onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        {props.description && <div class="dialog-description">{props.description}</div>}
        {(props.fields ?? []).map((f, i) => {
          const id = `${baseId}-${f.id}`;
          const listId = f.suggestions ? `${id}-list` : undefined;
          return (
            <div class="form-row" key={f.id}>
              <label for={id}>{f.label}</label>
              <input
                id={id}
                name={f.id}
                type="text"
                value={values[f.id]}
                placeholder={f.placeholder}
                list={listId}
                autocomplete="off"
                spellcheck={false}
                aria-describedby={f.hint ? `${id}-hint` : undefined}
                data-autofocus={i === 0 ? '' : undefined}
                onInput={(e) => setValues({ ...values, [f.id]: (e.currentTarget as HTMLInputElement).value })}
              />
              {f.hint && (
                <small id={`${id}-hint`} class="hint">
                  {f.hint}
                </small>
              )}
              {f.suggestions && (
                <datalist id={listId}>
                  {f.suggestions.map((s) => (
                    <option key={s} value={s} />
                  ))}
                </datalist>
              )}
            </div>
          );
        })}
        {'invalid' in action ? null : <Cli command={cliCommand(action)} label="Same as" />}
        {invalid !== null && ((props.fields ?? []).some((f) => values[f.id] !== '') || firstFieldless) && (
          <p class="hint-error" role="status">
            {invalid}
          </p>
        )}
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-buttons">
          <button type="button" onClick={props.onClose} data-autofocus={props.danger && firstFieldless ? '' : undefined}>
            Cancel
          </button>
          <button
            type="submit"
            class={props.danger ? 'danger' : 'primary'}
            disabled={busy || invalid !== null}
            data-autofocus={!props.danger && firstFieldless ? '' : undefined}
          >
            {busy ? 'Working…' : props.confirmLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}
