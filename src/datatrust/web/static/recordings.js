/* The recordings made in the capture page, kept in this browser (IndexedDB) from the
   moment recording stops until their upload is done, so that a closed tab, a reload or a
   flat battery does not lose them: the page offers to resume or discard each one.

   One database per signed-in account ("datatrust-recordings-<user id>", the capture
   form's data-account): another person signed in on the same phone opens their own and
   never sees these, and opening it deletes every other account's, so a person's voice
   does not stay on a shared phone once someone else records on it (a session that only
   ran out leaves no sign-out to clear it). Signing out and erasing an account clear the
   site's storage (Clear-Site-Data), these with it.

     datatrustRecordings.open(account) -> Promise<store|null>  (null: no IndexedDB here)
     store.keep(record) -> Promise<id>       (record.data: the recording's bytes)
     store.update(id, changes) -> Promise    (e.g. {url: tus upload URL, sent: bytes})
     store.list() -> Promise<[record]>       (every task's, oldest first)
     store.forget(id) -> Promise
*/
(function () {
  "use strict";
  var STORE = "recordings";

  function done(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function Store(db) { this.db = db; }
  Store.prototype.tx = function (mode) {
    return this.db.transaction(STORE, mode).objectStore(STORE);
  };
  Store.prototype.keep = function (record) {
    return done(this.tx("readwrite").add(record));
  };
  Store.prototype.update = function (id, changes) {
    var store = this.tx("readwrite");
    return done(store.get(id)).then(function (record) {
      if (!record) return null;
      Object.keys(changes).forEach(function (k) { record[k] = changes[k]; });
      return done(store.put(record));
    });
  };
  Store.prototype.list = function () {
    return done(this.tx("readonly").getAll());
  };
  Store.prototype.forget = function (id) {
    return done(this.tx("readwrite").delete(id));
  };

  var PREFIX = "datatrust-recordings-";

  // Every other account's recordings, deleted (browsers without databases() keep them
  // until sign-out or erasure clears the site's storage).
  function forgetOthers(account) {
    if (!indexedDB.databases) return Promise.resolve();
    return indexedDB.databases().then(function (all) {
      return Promise.all(all.filter(function (d) {
        return d.name && d.name.indexOf(PREFIX) === 0 && d.name !== PREFIX + account;
      }).map(function (d) { return done(indexedDB.deleteDatabase(d.name)); }));
    }).catch(function () {});
  }

  function open(account) {
    if (!account || !window.indexedDB) return Promise.resolve(null);
    return forgetOthers(String(account)).then(function () { return openOwn(account); });
  }

  function openOwn(account) {
    var request = indexedDB.open(PREFIX + account, 1);
    request.onupgradeneeded = function () {
      request.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
    };
    // Private modes that refuse IndexedDB: recordings are then not kept (as before).
    return done(request).then(function (db) { return new Store(db); }, function () { return null; });
  }

  window.datatrustRecordings = { open: open };
})();
