// The package's SharedWorker: it introduces a follower's page to the worker that leads a
// store, so their calls go over a MessagePort of their own rather than a BroadcastChannel (a
// channel's messages pass through the browser and reach every listener). It only passes
// ports on: a page whose worker leads registers ('lead'); a follower sends one end of a
// MessageChannel ('connect'), which goes to the leading page and from there to its worker.
// Where SharedWorker is missing (Chrome on Android before 148), followers stay on the
// BroadcastChannels. A classic script, with no imports: module SharedWorkers came late.

/** The page port and epoch of each store's leader. */
const leaders = new Map();

// eslint-disable-next-line no-restricted-globals
self.onconnect = ({ ports: [page] }) => {
  page.onmessage = ({ data }) => {
    if (data?.t === 'lead') {
      // A later epoch replaces an earlier leader (whose page may be gone without a word).
      const known = leaders.get(data.name);
      if (!known || data.epoch >= known.epoch) leaders.set(data.name, { page, epoch: data.epoch });
    } else if (data?.t === 'connect') {
      const leader = leaders.get(data.name);
      if (leader && leader.epoch === data.epoch) {
        leader.page.postMessage(data, [data.port]);
      } else {
        data.port.close(); // the follower stays on the BroadcastChannels
      }
    }
  };
};
