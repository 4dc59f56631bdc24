import { Command } from 'commander';
import type { CliContext } from '../context.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const;

interface Node {
  readonly name: string;
  readonly description: string;
  readonly options: string[];
  readonly children: Node[];
}

/** The command tree as data: names (aliases included), long options and subcommands. */
function tree(cmd: Command): Node {
  const options = cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => Boolean(f)));
  const children = cmd.commands
    .filter((c) => c.name() !== 'help')
    .flatMap((c) => [c.name(), ...c.aliases()].map((name) => ({ ...tree(c), name })));
  return { name: cmd.name(), description: cmd.description(), options, children };
}

const words = (xs: readonly string[]): string => xs.join(' ');
const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * bash: completes commands, subcommands and long options from the tree, two levels deep (the
 * depth of pgbranch's commands); branch names are not completed (that would call the host).
 */
export function bashCompletion(program: Command): string {
  const root = tree(program);
  const cases = root.children
    .map((c) => {
      const sub = c.children.map(
        (s) => `          ${s.name}) COMPREPLY=($(compgen -W ${quote(words([...s.options, ...root.options]))} -- "$cur")); return ;;`,
      );
      return [
        `    ${c.name})`,
        c.children.length > 0
          ? [`      if [ "$cword" -eq 2 ]; then COMPREPLY=($(compgen -W ${quote(words(c.children.map((s) => s.name)))} -- "$cur")); return; fi`, '      case "${COMP_WORDS[2]}" in', ...sub, '      esac'].join('\n')
          : '',
        `      COMPREPLY=($(compgen -W ${quote(words([...c.options, ...root.options]))} -- "$cur")); return ;;`,
      ]
        .filter(Boolean)
        .join('\n');
    })
    .join('\n');
  return `# pgbranch bash completion: source <(pgbranch completion bash)
_pgbranch() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cword=$COMP_CWORD
  COMPREPLY=()
  if [ "$cword" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${quote(words([...root.children.map((c) => c.name), ...root.options]))} -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
}
complete -F _pgbranch pgbranch
`;
}

/** zsh: the bash function through zsh's bashcompinit (one source of truth for both). */
export function zshCompletion(program: Command): string {
  return `#compdef pgbranch
# pgbranch zsh completion: source <(pgbranch completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program).split('\n').slice(1).join('\n')}`;
}

export function fishCompletion(program: Command): string {
  const root = tree(program);
  const lines = ['# pgbranch fish completion: pgbranch completion fish | source', 'complete -c pgbranch -f'];
  const top = root.children.map((c) => c.name);
  for (const c of root.children) {
    lines.push(`complete -c pgbranch -n ${quote(`not __fish_seen_subcommand_from ${words(top)}`)} -a ${quote(c.name)} -d ${quote(c.description)}`);
    const subs = c.children.map((s) => s.name);
    for (const s of c.children) {
      lines.push(`complete -c pgbranch -n ${quote(`__fish_seen_subcommand_from ${c.name}; and not __fish_seen_subcommand_from ${words(subs)}`)} -a ${quote(s.name)} -d ${quote(s.description)}`);
    }
  }
  for (const flag of root.options.filter((o) => o.startsWith('--'))) lines.push(`complete -c pgbranch -l ${flag.slice(2)}`);
  return `${lines.join('\n')}\n`;
}

/** `completion bash|zsh|fish`: prints a script to source. */
export function registerCompletionCommand(program: Command, ctx: CliContext): void {
  program
    .command('completion <shell>')
    .description(`print a shell completion script (${SHELLS.join(', ')})`)
    .addHelpText(
      'after',
      `
Examples:
  $ source <(pgbranch completion bash)                       # bash, this shell
  $ pgbranch completion bash > /etc/bash_completion.d/pgbranch
  $ pgbranch completion zsh > "\${fpath[1]}/_pgbranch"
  $ pgbranch completion fish > ~/.config/fish/completions/pgbranch.fish`,
    )
    .action((shell: string) => {
      const make = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[shell];
      if (!make) program.error(`error: unknown shell "${shell}": use one of ${SHELLS.join(', ')}`, { code: 'pgbranch.usage', exitCode: 2 });
      ctx.streams.stdout.write(make(program));
    });
}
