import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../rig/errors.js';
import { mappedBytes, parseBmap } from '../../rig/flash/bmap.js';

const FIXTURE = join(import.meta.dirname, '../../../test/fixtures/flash/small.img.bmap');
// Made by `bmaptool create` (3.6) from makeImage(1 MiB, [[0, 8192], [65536, 12288], [1040384, 8192]]).
const xml = readFileSync(FIXTURE, 'utf8');

function refusal(text: string): InputError {
  try {
    parseBmap(text, 'x.bmap');
  } catch (err) {
    expect(err).to.be.instanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected the bmap to be refused');
}

describe('flash: bmap files', function () {
  it("reads bmaptool's map: image size, block ranges in bytes, per-range sha256", function () {
    const map = parseBmap(xml, FIXTURE);
    expect(map.size).to.equal(1 << 20);
    expect(map.ranges.map((r) => [r.start, r.end])).to.deep.equal([
      [0, 8192],
      [65536, 77824],
      [1040384, 1048576],
    ]);
    expect(mappedBytes(map)).to.equal(7 * 4096);
    expect(map.ranges.every((r) => /^[0-9a-f]{64}$/.test(r.sha256 ?? ''))).to.equal(true);
  });

  it("refuses a map whose content no longer matches the file's own checksum", function () {
    const tampered = xml.replace('> 16-18 <', '> 16-19 <');
    expect(tampered).to.not.equal(xml);
    expect(refusal(tampered).message).to.match(/^x\.bmap: corrupt bmap: its checksum does not match/);
  });

  it('refuses a map with a damaged checksum', function () {
    const m = /<BmapFileChecksum> ([0-9a-f]+) </.exec(xml)!;
    const bad = xml.replace(m[1], `${m[1].slice(0, -1)}${m[1].endsWith('0') ? '1' : '0'}`);
    expect(refusal(bad).message).to.match(/corrupt bmap/);
  });

  it('refuses what is not a bmap, and a map cut short', function () {
    expect(refusal('<xml/>').message).to.match(/not a bmap file/);
    expect(refusal(xml.slice(0, xml.indexOf('<BlockMap>'))).message).to.match(/corrupt bmap|checksum/);
  });
});
