/**
 * The three parties as the visitor sees them: a small diagram (this page in the middle, one node per party, the
 * links between them coloured by state) and one card per party with its safety code, where it runs, its link
 * state and what it holds: the bytes of its share of the current input next to the clear input, which exists
 * only on this page.
 */
import { OWNER } from '@puma/transport';
import type { PeerLinkState } from '@puma/party/trust-ui';
import { hexDump } from '../input-tap.ts';

const SVG = 'http://www.w3.org/2000/svg';
/** Node positions in the diagram's 300 x 170 box: parties 0, 1, 2, then this page. */
const NODES: Array<[number, number]> = [
  [50, 140],
  [150, 25],
  [250, 140],
  [150, 100],
];

export interface PartyView {
  safetyCode: string;
  /** 'hosted' or 'this tab'. */
  where: string;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

export class PartiesView {
  private readonly lines: SVGLineElement[][] = [];
  private readonly nodes: SVGCircleElement[] = [];
  private readonly cards: Array<{ card: HTMLElement; code: HTMLElement; where: HTMLElement; link: HTMLElement; holds: HTMLElement; share: HTMLElement }> = [];
  private readonly clearInput: HTMLElement;
  private readonly ownerLink: HTMLElement;

  constructor(diagram: HTMLElement, cards: HTMLElement) {
    const box = svg('svg', { viewBox: '0 0 300 170', role: 'img', 'aria-label': 'this page and the three parties' });
    // Party-to-party links (triangle), then this page's link to each party.
    for (const [a, b] of [[0, 1], [1, 2], [0, 2]]) box.append(svg('line', { x1: NODES[a][0], y1: NODES[a][1], x2: NODES[b][0], y2: NODES[b][1], class: 'mesh' }));
    for (let p = 0; p < 3; p++) {
      const line = svg('line', { x1: NODES[3][0], y1: NODES[3][1], x2: NODES[p][0], y2: NODES[p][1], class: 'link', 'data-link': 'idle' });
      this.lines.push([line]);
      box.append(line);
    }
    for (let p = 0; p < 4; p++) {
      const [x, y] = NODES[p];
      const node = svg('circle', { cx: x, cy: y, r: p === 3 ? 20 : 17, class: p === 3 ? 'node self' : 'node', 'data-link': 'idle' });
      this.nodes.push(node);
      box.append(node, svg('text', { x, y: y + 4, 'text-anchor': 'middle', class: 'label' }, p === 3 ? 'you' : `P${p}`));
    }
    diagram.replaceChildren(box);

    const clear = document.createElement('div');
    clear.className = 'card clear';
    const clearTitle = document.createElement('b');
    clearTitle.textContent = 'this page (client): the clear text';
    this.clearInput = document.createElement('pre');
    this.clearInput.id = 'view-client';
    this.clearInput.textContent = '-';
    this.ownerLink = document.createElement('p');
    this.ownerLink.className = 'hint';
    this.ownerLink.textContent = 'model owner: -';
    clear.append(clearTitle, this.clearInput, this.ownerLink);
    cards.replaceChildren(clear);
    for (let p = 0; p < 3; p++) {
      const card = document.createElement('div');
      card.className = 'card';
      card.dataset.party = String(p);
      const title = document.createElement('b');
      title.textContent = `party ${p}`;
      const where = document.createElement('span');
      where.className = 'where';
      const code = document.createElement('p');
      code.className = 'code';
      const link = document.createElement('p');
      link.className = 'link';
      const holds = document.createElement('p');
      holds.className = 'hint holds';
      const share = document.createElement('pre');
      share.id = `view-${p}`;
      share.textContent = '-';
      card.append(title, ' ', where, code, link, holds, share);
      cards.append(card);
      this.cards.push({ card, code, where, link, holds, share });
    }
  }

  /** The parties of the listing (or of the visit, with a seat): code and where each runs. */
  setParties(parties: readonly PartyView[]): void {
    parties.forEach((v, p) => {
      const c = this.cards[p];
      c.code.textContent = v.safetyCode;
      c.where.textContent = `(${v.where})`;
      c.holds.textContent = `holds: a share of the model's weights and of every value computed; of your input it got only the bytes below`;
    });
  }

  /** Link states from the client's channel (parties and owner); parties not in `links` show as idle. */
  setLinks(links: readonly PeerLinkState[]): void {
    for (let p = 0; p < 3; p++) {
      const s = links.find((l) => l.peer === p);
      const state = s?.link ?? 'idle';
      this.lines[p][0].dataset.link = state;
      this.nodes[p].dataset.link = state;
      this.cards[p].card.dataset.link = state;
      this.cards[p].link.textContent =
        state === 'idle' ? 'link: not connected' : state === 'failed' ? `link failed: ${s!.error}` : state === 'authenticated' ? 'link: connected, key proved' : 'link: connecting';
    }
    const owner = links.find((l) => l.peer === OWNER);
    this.ownerLink.textContent = `model owner (hosted; sends the public model description, never your input): ${owner ? owner.link : 'not connected'}`;
    this.nodes[3].dataset.link = links.length ? 'authenticated' : 'idle';
  }

  /** The bytes party `party` received for the input of `step`. */
  showShare(party: number, step: number, bytes: Uint8Array): void {
    this.cards[party].share.textContent = `step ${step}: ${bytes.byteLength} bytes\n${hexDump(bytes, 64)}`;
  }

  /** The clear input of `step`, which only this page knows. */
  showClearInput(step: number, what: string): void {
    this.clearInput.textContent = `step ${step}: ${what}`;
  }

  resetInputs(): void {
    this.clearInput.textContent = '-';
    for (const c of this.cards) c.share.textContent = '-';
  }
}
