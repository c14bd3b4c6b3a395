/**
 * The visitor page links to the README's "Threat model" section, which the pages build ships as
 * threat-model.txt: the section is cut whole, up to the next second-level heading, and a README without it
 * fails the build naming what is missing rather than shipping an empty or wrong file.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { threatModelSection } from '../vite.pages.config.ts';

describe('threatModelSection', () => {
  it("cuts the README's Threat model section whole", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = threatModelSection(readme);
    expect(section.startsWith('## Threat model\n')).toBe(true);
    expect(section).toContain('honest majority');
    expect(section).not.toMatch(/^## (?!Threat model)/m);
    expect(readme).toContain(section.trim());
  });

  it('stops at the next second-level heading, keeps third-level ones, and takes a last section to the end', () => {
    const readme = '# t\n\n## Intro\nx\n\n## Threat model\n\nA.\n\n### Detail\nB.\n\n## Layout\nC.\n';
    expect(threatModelSection(readme)).toBe('## Threat model\n\nA.\n\n### Detail\nB.\n');
    expect(threatModelSection('## Threat model\nlast\n')).toBe('## Threat model\nlast\n');
  });

  it('names the missing section', () => {
    expect(() => threatModelSection('# t\n\n## Threat models and more\n')).toThrow('has no "## Threat model" section');
  });
});
