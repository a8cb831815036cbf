//go:build linux

package amtlink

func (c *client) Set(name string, ch Change) (*Link, error) {
	const op = "set"
	if err := checkIfName("name", name); err != nil {
		return nil, &Error{Op: op, Name: name, Err: err}
	}
	if err := ch.validate(name); err != nil {
		return nil, &Error{Op: op, Name: name, Err: err}
	}
	r, err := c.getAMT(op, name, false)
	if err != nil {
		return nil, err
	}
	n := &names{c: c, op: op, cache: make(map[uint32]string, 2)}
	if ch.IsZero() {
		l, err := r.link(n)
		if err != nil {
			return nil, err
		}
		return &l, nil
	}
	var master *uint32
	if ch.Master != nil {
		var idx uint32 // IFLA_MASTER 0 detaches
		if *ch.Master != "" {
			if idx, err = c.lookupIndex(op, name, "master", *ch.Master); err != nil {
				return nil, err
			}
			n.cache[idx] = *ch.Master
		}
		master = &idx
	}
	var mtu uint32
	if ch.MTU != nil {
		mtu = *ch.MTU
	}
	// One request without NLM_F_CREATE: the kernel's do_setlink applies
	// the MTU, the master, the alias and the flags of the existing link in turn.
	if err := c.exchange(setRequest(r.index, "", mtu, master, ch.Up, ch.Alias), nil, ignoreReplies); err != nil {
		return nil, notFound(c.opError(op, name, err), "link", name)
	}
	if r, err = c.getRaw(op, name); err != nil {
		return nil, err
	}
	l, err := r.link(n)
	if err != nil {
		return nil, err
	}
	return &l, nil
}
